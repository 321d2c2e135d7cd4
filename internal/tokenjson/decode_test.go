package tokenjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/storebench"
)

// jsonDecode is encoding/json's decoding of a stored token, the reference Unmarshal must agree
// with: what does not start with '{' is not an object; the rest is json.Unmarshal's.
func jsonDecode(data string) (*shoptoken.Token, error) {
	if t := strings.TrimLeft(data, " \t\r\n"); t == "" || t[0] != '{' {
		return nil, ErrNotObject
	}
	tok := new(shoptoken.Token)
	if err := json.Unmarshal([]byte(data), (*plain)(tok)); err != nil {
		return nil, err
	}
	return tok, nil
}

// decodeSeeds are stored tokens as json.Marshal writes them, in many shapes, and JSON that
// json.Marshal never writes but a damaged or hand-written value may hold.
func decodeSeeds(tb testing.TB) []string {
	tb.Helper()
	cst := time.FixedZone("CST", 8*3600)
	india := time.FixedZone("", 5*3600+30*60)
	nfld := time.FixedZone("", -(3*3600 + 30*60))
	toks := []*shoptoken.Token{
		{},
		{AccessToken: "at"},
		storebench.FleetToken(7, time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)),
		{
			AccessToken: "at-é-中文-😀", TokenType: "bearer", RefreshToken: "rt<>&'\"\\/\u2028\x7f",
			Expiry:        time.Date(2031, 5, 6, 7, 8, 9, 123456789, cst),
			RefreshExpiry: time.Date(2032, 2, 29, 23, 59, 59, 1, nfld),
			IssuedAt:      time.Date(2000, 2, 29, 0, 0, 0, 100, india),
			Scope:         []string{"item", "", "用户", "a\"b"},
			Subject:       "88888",
			Extra:         map[string]string{"status": "1", "": "", "k\n": "v\t", "é": "中"},
		},
		{AccessToken: "x", Expiry: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), IssuedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{AccessToken: "x", Expiry: time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), IssuedAt: time.Date(1600, 3, 1, 0, 0, 0, 0, time.UTC)},
		{AccessToken: "x", Expiry: time.Date(2024, 6, 1, 0, 0, 0, 0, time.Local), Scope: []string{}, Extra: map[string]string{}},
		{AccessToken: "bad utf-8 \xff\xfe", Subject: "\xc3"},
	}
	var seeds []string
	for _, tok := range toks {
		data, err := json.Marshal((*plain)(tok))
		require.NoError(tb, err)
		seeds = append(seeds, string(data))
	}
	return append(seeds,
		`{}`, `[]`, `null`, `"x"`, `1`, ``, ` `, `{`, `}`, `{"access_token":"a"}x`, `{"access_token":"a"} `,
		` {"access_token":"a"}`, `{ "access_token":"a"}`, `{"access_token": "a"}`, `{"access_token":"a" }`,
		`{"access_token":"a","access_token":"b"}`, `{"token_type":"t","access_token":"a"}`,
		`{"Access_Token":"a"}`, `{"unknown":"a"}`, `{"access_token":null}`, `{"access_token":1}`,
		`{"access_token":"a\u0041"}`, `{"access_token":"a\"b"}`, "{\"access_token\":\"a\x01\"}",
		"{\"access_token\":\"\xff\"}", "{\"access_token\":\"\xe4\xb8\"}", `{"access_token":"a",}`,
		`{"scope":[]}`, `{"scope":["a",]}`, `{"scope":["a","b"]}`, `{"scope":null}`, `{"scope":"a"}`,
		`{"scope":["a"],"scope":["b","c"]}`, `{"extra":{}}`, `{"extra":{"a":"1","a":"2"}}`,
		`{"extra":{"a":"1"},"extra":{"b":"2"}}`, `{"extra":{"a":1}}`, `{"extra":null}`,
		`{"expiry":"2031-05-06T07:08:09Z"}`, `{"expiry":"2031-05-06T07:08:09.5Z"}`,
		`{"expiry":"2031-05-06T07:08:09.1234567891234Z"}`, `{"expiry":"2031-05-06T07:08:09.Z"}`,
		`{"expiry":"2031-05-06T07:08:09+08:00"}`, `{"expiry":"2031-05-06T07:08:09-00:00"}`,
		`{"expiry":"2031-05-06T07:08:09+00:00"}`, `{"expiry":"2031-05-06T07:08:09+23:59"}`,
		`{"expiry":"2031-05-06T07:08:09+24:00"}`, `{"expiry":"2031-05-06T07:08:09+05:60"}`,
		`{"expiry":"2031-02-29T07:08:09Z"}`, `{"expiry":"2032-02-29T07:08:09Z"}`, `{"expiry":"1900-02-29T00:00:00Z"}`,
		`{"expiry":"2031-04-31T07:08:09Z"}`, `{"expiry":"2031-05-06T24:00:00Z"}`, `{"expiry":"2031-05-06T23:60:00Z"}`,
		`{"expiry":"2031-05-06T23:59:60Z"}`, `{"expiry":"2031-05-06t07:08:09z"}`, `{"expiry":"2031-05-06 07:08:09Z"}`,
		`{"expiry":"2031-5-06T07:08:09Z"}`, `{"expiry":"+031-05-06T07:08:09Z"}`, `{"expiry":"2031-05-06T07:08:09"}`,
		`{"expiry":"2031-05-06T07:08:09+0800"}`, `{"expiry":"2031-05-06T7:08:09Z"}`, `{"expiry":"2031-05-06T07:08:09,5Z"}`,
		`{"expiry":"0000-01-01T00:00:00Z"}`, `{"expiry":"0001-01-01T00:00:00Z"}`, `{"expiry":"0001-01-01T00:00:00+00:00"}`,
		`{"expiry":""}`, `{"expiry":null}`, `{"expiry":"soon"}`, `{"expiry":"2031-05-06T07:08:09\u005a"}`,
	)
}

// checkDecode fails t if Unmarshal, UnmarshalBytes and encoding/json disagree about data.
func checkDecode(t *testing.T, data string) {
	t.Helper()
	want, wantErr := jsonDecode(data)
	for name, decode := range map[string]func(string) (*shoptoken.Token, error){
		"Unmarshal":      Unmarshal,
		"UnmarshalBytes": func(s string) (*shoptoken.Token, error) { return UnmarshalBytes([]byte(s)) },
	} {
		got, err := decode(data)
		switch {
		case wantErr != nil:
			if err == nil {
				t.Fatalf("%s(%q) = %#v; encoding/json fails: %v", name, data, got, wantErr)
			}
			if errors.Is(wantErr, ErrNotObject) != errors.Is(err, ErrNotObject) {
				t.Fatalf("%s(%q): %v; encoding/json: %v", name, data, err, wantErr)
			}
			if !errors.Is(err, ErrNotObject) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s(%q): %v, neither ErrNotObject nor ErrInvalid", name, data, err)
			}
		case err != nil:
			t.Fatalf("%s(%q): %v; encoding/json decodes it", name, data, err)
		case !reflect.DeepEqual(want, got):
			t.Fatalf("%s(%q):\n got %s\nwant %s", name, data, dump(got), dump(want))
		}
	}
}

// dump shows every field of tok, secrets included (test data only), with its times' locations.
func dump(tok *shoptoken.Token) string {
	p := *(*plain)(tok)
	return fmt.Sprintf("%+v (zones %v %v %v)", p, p.Expiry.Location(), p.RefreshExpiry.Location(), p.IssuedAt.Location())
}

// TestUnmarshal: Unmarshal gives what encoding/json gives, token for token and error for error,
// and takes its own path for what Marshal writes. (Not parallel: it counts allocations.)
func TestUnmarshal(t *testing.T) {
	for _, data := range decodeSeeds(t) {
		checkDecode(t, data)
	}
	// What Marshal writes without escapes is decoded without encoding/json.
	data := string(mustMarshal(t, storebench.FleetToken(1, time.Now().Truncate(time.Second))))
	_, ok := fastDecode(data)
	assert.True(t, ok, "fastDecode(%q)", data)
	assert.Equal(t, 2.0, testing.AllocsPerRun(100, func() { _, _ = Unmarshal(data) }),
		"a token without Scope and Extra: the Token and one string")
	raw := []byte(data)
	assert.Equal(t, 2.0, testing.AllocsPerRun(100, func() { _, _ = UnmarshalBytes(raw) }),
		"UnmarshalBytes does not copy the data")
	tok, err := UnmarshalBytes(raw)
	require.NoError(t, err)
	access := tok.AccessToken
	for i := range raw {
		raw[i] = 'x'
	}
	assert.Equal(t, access, tok.AccessToken, "the Token keeps no reference to the data")
}

// TestMarshal: Marshal writes what json.Marshal writes of a Token, which Unmarshal reads back.
func TestMarshal(t *testing.T) {
	t.Parallel()
	tok := storebench.FleetToken(3, time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC))
	tok.Scope, tok.Extra = []string{"a", "b"}, map[string]string{"k": "v"}
	got, err := Marshal(tok)
	require.NoError(t, err)
	want, err := json.Marshal(tok)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	back, err := Unmarshal(string(got))
	require.NoError(t, err)
	assert.Equal(t, tok, back)
}

func mustMarshal(tb testing.TB, tok *shoptoken.Token) []byte {
	tb.Helper()
	data, err := Marshal(tok)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestUnmarshal_zones runs TestUnmarshal where the local zone is not UTC: a time with an
// offset decodes to the local zone only where that zone has the offset.
func TestUnmarshal_zones(t *testing.T) {
	t.Parallel()
	if os.Getenv("TOKENJSON_ZONE_CHILD") != "" {
		t.Skip("child process")
	}
	for _, tz := range []string{"Asia/Shanghai", "America/St_Johns", "Europe/London"} {
		t.Run(tz, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestUnmarshal$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "TZ="+tz, "TOKENJSON_ZONE_CHILD=1")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Run(), out.String())
			require.Contains(t, out.String(), "--- PASS: TestUnmarshal")
		})
	}
}

// FuzzUnmarshal: for any stored value, Unmarshal and encoding/json agree.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkDecode)
}

func benchDecode(b *testing.B, tok *shoptoken.Token, decode func(string) (*shoptoken.Token, error)) {
	data := string(mustMarshal(b, tok))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshal: Unmarshal against encoding/json, on a fleet's token and on one with every
// field.
func BenchmarkUnmarshal(b *testing.B) {
	exp := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	full := storebench.FleetToken(1, exp)
	full.Expiry = full.Expiry.In(time.FixedZone("", 8*3600))
	full.Scope = []string{"item", "trade", "user", "logistics"}
	full.Extra = map[string]string{"status": "1"}
	for _, tt := range []struct {
		name string
		tok  *shoptoken.Token
	}{{"fleet", storebench.FleetToken(1, exp)}, {"full", full}} {
		b.Run(tt.name+"/Unmarshal", func(b *testing.B) { benchDecode(b, tt.tok, Unmarshal) })
		b.Run(tt.name+"/encoding-json", func(b *testing.B) { benchDecode(b, tt.tok, jsonDecode) })
	}
}

// TestUnmarshal_sharesScopeLists: tokens with the same scope list, read one after another, share
// its strings (a fleet of shops of one app has one list) but each has a slice of its own, which
// its caller may change; another list is never mixed in, and a list with a ']' inside a scope
// still decodes as written.
func TestUnmarshal_sharesScopeLists(t *testing.T) {
	a := `{"access_token":"a1","scope":["trade","item","shop"]}`
	b := `{"access_token":"b1","scope":["trade","item","shop"]}`
	c := `{"access_token":"c1","scope":["trade","item"]}`
	d := `{"access_token":"d1","scope":["x]y","z"]}`
	decode := func(s string) *shoptoken.Token {
		tok, err := Unmarshal(s)
		require.NoError(t, err)
		return tok
	}
	ta, tb, tc, td := decode(a), decode(b), decode(c), decode(d)
	if unsafe.StringData(ta.Scope[0]) != unsafe.StringData(tb.Scope[0]) {
		t.Error("the same list's strings were not shared")
	}
	if &ta.Scope[0] == &tb.Scope[0] {
		t.Error("two tokens share one Scope slice")
	}
	ta.Scope[0] = "changed"
	if ta2 := decode(a); ta2.Scope[0] != "trade" {
		t.Errorf("a caller's change to a decoded Scope reached the next token: %q", ta2.Scope)
	}
	if got := strings.Join(tc.Scope, " "); got != "trade item" {
		t.Errorf("another list: %q", got)
	}
	if got := strings.Join(td.Scope, "|"); got != "x]y|z" {
		t.Errorf("a ']' in a scope: %q", got)
	}
	td2 := decode(d)
	if strings.Join(td2.Scope, "|") != "x]y|z" {
		t.Errorf("again: %q", td2.Scope)
	}
}
