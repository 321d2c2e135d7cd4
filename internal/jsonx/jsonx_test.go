package jsonx

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInt(t *testing.T) {
	tests := []struct {
		in   string
		want Int
	}{
		{`42`, Int{42, true}},
		{`-7`, Int{-7, true}},
		{`"1583720718116"`, Int{1583720718116, true}},
		{`" 9 "`, Int{9, true}},
		{`1.583720718116E12`, Int{1583720718116, true}},
		{`7.9`, Int{7, true}},
		{`null`, Int{}},
		{`""`, Int{}},
	}
	for _, tt := range tests {
		var got struct{ V Int }
		require.NoError(t, json.Unmarshal([]byte(`{"V":`+tt.in+`}`), &got), tt.in)
		assert.Equal(t, tt.want, got.V, tt.in)
	}
	var absent struct{ V Int }
	require.NoError(t, json.Unmarshal([]byte(`{}`), &absent))
	assert.False(t, absent.V.Set)
}

func TestInt_errorsNameTheKindNotTheValue(t *testing.T) {
	for in, kind := range map[string]string{
		`"SECRET-123456789"`: "string", `{"a":1}`: "object", `[1]`: "array", `true`: "bool",
		`1e300`: "number", `"NaN"`: "string",
	} {
		var v struct{ V Int }
		err := json.Unmarshal([]byte(`{"V":`+in+`}`), &v)
		var te *json.UnmarshalTypeError
		require.ErrorAs(t, err, &te, in)
		assert.Equal(t, kind, te.Value, in)
		assert.NotContains(t, err.Error(), "SECRET", in)
	}
}

func TestKind(t *testing.T) {
	for in, want := range map[string]string{"": "nothing", " {}": "object", "[]": "array", `"x"`: "string",
		"false": "bool", "null": "null", "-1": "number"} {
		assert.Equal(t, want, Kind([]byte(in)), in)
	}
}
