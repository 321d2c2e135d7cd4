// Package storetest checks that a shoptoken.Store, and the shoptoken.Locker, shoptoken.Watcher
// and shoptoken.DueIndex it may also be, keeps the contracts stated in package shoptoken, as
// testing/fstest.TestFS does for an fs.FS. MemoryStore, filestore and redisstore run it; so
// should any store you write yourself:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) *storetest.Harness {
//			db := newTestDB(t) // an empty database (or table) of this subtest's own
//			return &storetest.Harness{
//				Store: mystore.New(db),
//				Peer:  mystore.New(db), // a second Store on the same data, as another process has
//				Damage: func(ctx context.Context, key string, d storetest.Damage, secret string) error {
//					if d != storetest.Garbage {
//						return errors.ErrUnsupported
//					}
//					_, err := db.ExecContext(ctx,
//						"UPDATE tokens SET token = $1 WHERE key = $2", "\x00{"+secret, key)
//					return err
//				},
//			}
//		})
//	}
//
// A store's versions follow shoptoken.NextVersion; the Store documentation states the rest of the
// contract.
//
// # What it checks
//
// Every store: a token round-trips with every field (time zones, Scope, Extra); keys do not
// collide however odd; compare-and-swap rejects a stale prev with shoptoken.ErrConflict, and of
// many goroutines saving on one version exactly one wins; after Delete, Load reports
// shoptoken.ErrNotFound with version 0, Save with prev 0 recreates the key, and versions keep
// growing, never repeating, so a writer from before the Delete is fenced off; every method called
// with an ended context returns its error and changes nothing.
//
// With Harness.Damage and Harness.Put: a damaged value, or a version outside 1..MaxVersion, makes
// Load return an error wrapping shoptoken.ErrCorrupt that shows no stored secret, together with a
// version that Save accepts as prev to replace it; of several writers replacing it exactly one
// wins; no Save ever returns a version above shoptoken.MaxVersion, also from MaxVersion itself.
//
// A Locker: leases exclude each other across Store and Peer, a held lease is renewed past its
// ttl, unlock may be called twice and never frees another holder's lease, and (with
// Harness.Stall) an abandoned lease lapses after its ttl. A Watcher: a Save or Delete through Peer
// wakes a watcher on Store. A DueIndex: schedule, move, unschedule, earliest-first order and
// limit.
//
// # Running it
//
// Run calls the harness function once per subtest, and the subtests run in parallel: give each
// Harness its own store (a new directory, key prefix, table or database), or at least its own due
// index, since Due sees every scheduled key. Keys carry a random prefix per Run, so a store that
// keeps data between runs does not trip the suite, but a due index must start empty. The lease
// and watch subtests take a few seconds each.
package storetest
