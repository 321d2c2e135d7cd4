package fleetproof

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// StallLease is the lease TTL of both holders of the Fencing proof; their refresh timeout is half
// of it.
const StallLease = time.Second

// Shared is what a store shared by a fleet implements, and what the proofs use of it.
type Shared interface {
	shoptoken.Store
	shoptoken.Locker
	shoptoken.LeaseLoader
	shoptoken.Watcher
}

// RunStall is holder A of the Fencing proof, the body of its child process: a Cache on key in
// store whose refresher announces that it runs ("refreshing") and then waits for "resume", so
// that the parent can freeze the process inside its refresh. Every Save A makes is recorded in
// the list "saves" ("TOKEN prev=N ok v=M", "TOKEN prev=N conflict" or "TOKEN prev=N error: ..."),
// its first Token answer in "first", and, every 10 ms until the parent says stop, the token it
// holds in "current" and the Cache's events in "events".
func RunStall(board *Client, store Shared, key shoptoken.Key) error {
	stopped := board.Stopped()
	var mu sync.Mutex
	var events []string
	c, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		board.Set("refreshing", "1")
		for board.Get("resume") != "1" { // the parent freezes the process here
			time.Sleep(10 * time.Millisecond)
		}
		return &shoptoken.Token{AccessToken: "A-late", Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithKey(key), shoptoken.WithStore(&recordingStore{Shared: store, board: board}),
		shoptoken.WithRefreshTimeout(StallLease/2), shoptoken.WithLeaseTTL(StallLease),
		shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0),
		shoptoken.WithBackoff(100*time.Millisecond, 200*time.Millisecond),
		shoptoken.WithEvents(func(ev shoptoken.Event) {
			name := ""
			if ev.Token != nil {
				name = ev.Token.AccessToken
			}
			mu.Lock()
			events = append(events, ev.Kind.String()+"("+name+")")
			mu.Unlock()
		}))
	if err != nil {
		return err
	}
	defer c.Close()
	tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if tok, err := c.Token(tctx); err != nil {
		board.Set("first", "error: "+err.Error())
	} else {
		board.Set("first", tok.AccessToken)
	}
	for testkit.Sleep(stopped, 10*time.Millisecond) {
		cur := ""
		if tok := c.Current(); tok != nil {
			cur = tok.AccessToken
		}
		mu.Lock()
		evs := strings.Join(events, " ")
		mu.Unlock()
		board.Set("current", cur)
		board.Set("events", evs)
	}
	return nil
}

// recordingStore is a Shared store that records the outcome of every Save in the board's list
// "saves".
type recordingStore struct {
	Shared
	board *Client
}

func (s *recordingStore) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	v, err := s.Shared.Save(ctx, key, tok, prev)
	rec := fmt.Sprintf("%s prev=%d ", tok.AccessToken, prev)
	switch {
	case err == nil:
		rec += fmt.Sprintf("ok v=%d", v)
	case errors.Is(err, shoptoken.ErrConflict):
		rec += "conflict"
	default:
		rec += "error: " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	s.board.Append("saves", rec)
	return v, err
}
