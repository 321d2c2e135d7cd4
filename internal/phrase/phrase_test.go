package phrase

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAny(t *testing.T) {
	assert.True(t, Any("系统繁忙,请稍后", "busy", "繁忙"))
	assert.False(t, Any("ok", "busy", "繁忙"))
	assert.False(t, Any("anything"))
	assert.True(t, Any("x", ""), "an empty phrase is in every string")
}
