package check

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

func TestBlank(t *testing.T) {
	for _, s := range []string{"", " ", "\t\n", "\u3000", "\u00a0 ", "\u200b", "\ufeff", "\x00"} {
		assert.True(t, Blank(s), "%q", s)
	}
	for _, s := range []string{"a", " a ", "秘", "0"} {
		assert.False(t, Blank(s), "%q", s)
	}
}

func TestRequired(t *testing.T) {
	require.NoError(t, Required("p", "op", shoptoken.ErrCredentials, "A", "x", "B", "y"))
	err := Required("p", "op", shoptoken.ErrCredentials, "A", "x", "Config.B", "\u3000")
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	assert.Equal(t, "p: op: Config.B is required: it holds only white space", err.Error())
	assert.Equal(t, "p: op: A is required", Required("p", "op", shoptoken.ErrBadRequest, "A", "").Error())
}
