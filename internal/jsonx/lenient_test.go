package jsonx

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestText(t *testing.T) {
	tests := []struct {
		in   string
		want Text
	}{
		{`"69BA0D43"`, "69BA0D43"},
		{`"a\u005fb"`, "a_b"},
		{`123`, "123"},
		{`1.5e3`, "1.5e3"},
		{`-0`, "-0"},
		{`true`, "true"},
		{`false`, "false"},
		{`null`, ""},
		{`{"n":1}`, ""},
		{`["a"]`, ""},
	}
	for _, tt := range tests {
		var got struct {
			V Text
			W string
		}
		require.NoError(t, json.Unmarshal([]byte(`{"V":`+tt.in+`,"W":"next"}`), &got), tt.in)
		assert.Equal(t, tt.want, got.V, tt.in)
		assert.Equal(t, "next", got.W, "%s: the rest of the object is still read", tt.in)
	}
}

func TestMaybeInt(t *testing.T) {
	tests := []struct {
		in   string
		want MaybeInt
	}{
		{`42`, MaybeInt{Int: Int{42, true}}},
		{`"7775999"`, MaybeInt{Int: Int{7775999, true}}},
		{`null`, MaybeInt{}},
		{`""`, MaybeInt{}},
		{`"soon"`, MaybeInt{Invalid: true}},
		{`true`, MaybeInt{Invalid: true}},
		{`{"s":1}`, MaybeInt{Invalid: true}},
		{`1e300`, MaybeInt{Invalid: true}},
		{`9223372036854775808`, MaybeInt{Invalid: true}},
	}
	for _, tt := range tests {
		var got struct {
			V MaybeInt
			W string
		}
		require.NoError(t, json.Unmarshal([]byte(`{"V":`+tt.in+`,"W":"next"}`), &got), tt.in)
		assert.Equal(t, tt.want, got.V, tt.in)
		assert.Equal(t, "next", got.W, tt.in)
	}
}
