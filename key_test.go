package shoptoken

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKey_String(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		want string
	}{
		{Key{"youzan", "3fa9c1", "42587152"}, "youzan/3fa9c1/42587152"},
		{Key{"vvtool", "23b9530c14856", ""}, "vvtool/23b9530c14856"},
		{Key{"vipauth", "app", "a/b"}, "vipauth/app/a%2Fb"},
		{Key{"veapi", "my acct", "{shop}%1"}, "veapi/my%20acct/%7Bshop%7D%251"},
		{Key{"youzan", "a", "店铺\n"}, "youzan/a/店铺%0A"},
	} {
		assert.Equal(t, tc.want, tc.k.String())
		back, err := ParseKey(tc.want)
		require.NoError(t, err, tc.want)
		assert.Equal(t, tc.k, back)
	}
	assert.Equal(t, "youzan/3fa9c1", Key{"youzan", "3fa9c1", "42587152"}.Namespace())
}

func FuzzParseKey(f *testing.F) {
	f.Add("youzan", "app", "shop")
	f.Add("veapi", "a/b", "%")
	f.Add("x", "", "")
	f.Fuzz(func(t *testing.T, p, a, s string) {
		k := Key{p, a, s}
		if k.Check() != nil {
			return
		}
		back, err := ParseKey(k.String())
		if err != nil || back != k {
			t.Fatalf("%#v → %q → %#v, %v", k, k.String(), back, err)
		}
	})
}

func TestKey_Check(t *testing.T) {
	for _, k := range []Key{{}, {"", "a", "s"}, {"Youzan", "a", ""}, {"you zan", "a", ""}, {"youzan", " ", ""}} {
		assert.ErrorIs(t, k.Check(), ErrBadRequest, "%#v", k)
	}
	_, err := ParseKey("youzan")
	assert.ErrorIs(t, err, ErrBadRequest)
	_, err = ParseKey("youzan/a/b/c")
	assert.ErrorIs(t, err, ErrBadRequest)
	_, err = ParseKey("youzan/a/%zz")
	assert.ErrorIs(t, err, ErrBadRequest)
}
