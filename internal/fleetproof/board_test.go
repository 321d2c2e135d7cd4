package fleetproof

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBoard: what a child writes through its Client the parent reads on the Board, and the
// other way round; lists keep every append; Stopped ends once the parent says stop.
func TestBoard(t *testing.T) {
	b := NewBoard(t)
	t.Setenv(EnvBoard, strings.TrimPrefix(b.Env(), EnvBoard+"="))
	c := Dial()
	c.Set("current", "tok/1 ü")
	assert.Equal(t, "tok/1 ü", b.Get("current"))
	b.Set("resume", "1")
	assert.Equal(t, "1", c.Get("resume"))
	assert.Equal(t, "", c.Get("never"))
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Append("saves", "x")
		}()
	}
	wg.Wait()
	assert.Len(t, b.List("saves"), 20)
	stopped := c.Stopped()
	require.NoError(t, stopped.Err())
	b.Stop(t, time.Second)
	select {
	case <-stopped.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Stopped did not end after Stop")
	}
	assert.ErrorIs(t, stopped.Err(), context.Canceled)
}
