// Package storetest checks that a shoptoken.Store, and the shoptoken.Locker,
// shoptoken.LeaseLoader, shoptoken.Watcher, shoptoken.BulkLoader and shoptoken.DueIndex it may
// also be, keeps the contracts stated in package shoptoken, as
// testing/fstest.TestFS does for an fs.FS. MemoryStore, filestore, redisstore and sqlstore run
// it; so should any store you write yourself:
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
// Harness.Stall) an abandoned lease lapses after its ttl. A LeaseLoader: TryLockLoad reads what
// Load reads (a token, shoptoken.ErrNotFound, or shoptoken.ErrCorrupt with the version that
// replaces the damage), takes a free lease (of many concurrent callers, exactly one) and never one
// that Lock or another TryLockLoad holds, and its lease is renewed, released and lapses as Lock's.
// A Watcher: a Save or Delete through Peer wakes a watcher on Store. A BulkLoader: LoadMany of
// thousands of keys returns what Load returns for each stored one, leaves out keys never saved or
// deleted, and leaves out damaged ones, naming each in an error wrapping shoptoken.ErrCorrupt that
// shows no stored secret. A DueIndex: schedule, move, unschedule, earliest-first order (ties by
// key) and limit; batches of thousands of keys in one Schedule or Unschedule; and namespaces that
// never see each other's keys, however alike their names.
//
// # Sealing
//
// RunSealing checks a store that seals tokens with a seal.Keyring (as filestore.WithSeal,
// redisstore.WithSeal and sqlstore.WithSeal do): a SealHarness opens it as processes with different keyrings would and
// reads what it keeps at rest. It checks that nothing of a sealed token is stored in clear, that
// tokens stored in clear before sealing load and are sealed by the next Save, that a token that
// does not open is damage through every read (Load, TryLockLoad, LoadMany), and it runs a fleet of
// Caches over four processes through a key rotation, deploy by deploy, counting lost refresh
// tokens and reports of damage.
//
// # Running it
//
// Run calls the harness function once per subtest, and the subtests run in parallel. Keys and
// due-index namespaces carry a random prefix per Run and subtest, so subtests may share one store,
// and a store that keeps data between runs does not trip the suite; the suite unschedules what it
// scheduled, but leaves its tokens behind. The lease and watch subtests take a few seconds each.
package storetest
