package jsonx

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestString(t *testing.T) {
	for in, want := range map[string]String{
		`"abc"`: "abc", `"a\u005fb"`: "a_b", `123`: "123", `1.5e3`: "1.5e3", `null`: "",
	} {
		var got struct{ V String }
		require.NoError(t, json.Unmarshal([]byte(`{"V":`+in+`}`), &got), in)
		assert.Equal(t, want, got.V, in)
	}
	for _, in := range []string{`true`, `{"a":1}`, `["a"]`} {
		var got struct{ V String }
		err := json.Unmarshal([]byte(`{"V":`+in+`}`), &got)
		var te *json.UnmarshalTypeError
		require.ErrorAs(t, err, &te, in)
		assert.NotContains(t, err.Error(), in, "the value is never quoted")
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]Bool{
		`true`: {true, true}, `false`: {false, true}, `"true"`: {true, true}, `"FALSE"`: {false, true},
		`1`: {true, true}, `"0"`: {false, true}, `null`: {}, `""`: {},
	} {
		var got struct{ V Bool }
		require.NoError(t, json.Unmarshal([]byte(`{"V":`+in+`}`), &got), in)
		assert.Equal(t, want, got.V, in)
	}
	for _, in := range []string{`"yes"`, `2`, `{}`, `[]`} {
		var got struct{ V Bool }
		require.Error(t, json.Unmarshal([]byte(`{"V":`+in+`}`), &got), in)
	}
}
