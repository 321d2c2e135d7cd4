// Package filestore keeps shoptoken tokens in files of a local directory and coordinates the
// processes of one host that share it: a Store is a shoptoken.Store, shoptoken.Locker,
// shoptoken.LeaseLoader and shoptoken.Watcher. It is not a shoptoken.DueIndex.
//
// # Layout
//
// Each key has up to three files, named after the key's lowercase base32 encoding (keys longer
// than 100 bytes: the hex SHA-256 of the key), so that no key, whatever its slashes or dots, can
// name a path outside the directory:
//
//	k-<base32>.json   the token and its version (JSON)
//	k-<base32>.lock   flocked while a Save or Delete of the key runs
//	k-<base32>.lease  flocked while a process holds the key's lease (Lock)
//
// Lock files are created once and never removed. Files named ".tmp-*" are writes in progress, or
// leftovers of a process that crashed while writing; they are never read, and may be removed when
// no process is writing.
//
// # Atomicity
//
// Save compares the stored version and writes the new file under an exclusive flock on the
// key's lock file, so compare-and-swap is atomic across goroutines and processes. It writes a
// temporary file in the same directory, fsyncs it, renames it over the data file and fsyncs the
// directory: readers, which take no lock, see the whole old file or the whole new one, and a
// crash leaves one of the two.
//
// Delete leaves a tombstone recording the next version rather than removing the file, so versions
// of a key only grow: Load reports a tombstone as shoptoken.ErrNotFound with version 0, Save with
// prev 0 succeeds on it as on an absent key, and a writer still holding a version from before the
// Delete gets shoptoken.ErrConflict even after the key has been saved again.
//
// # Damaged files
//
// A data file that cannot be read as a token (not JSON, another format, a version outside
// 1..shoptoken.MaxVersion, another key's, a seal that does not open or names a key the keyring
// lacks) makes Load return an error wrapping shoptoken.ErrCorrupt that names the key, the file and
// the reason, never the token, with the version that Save accepts as prev to replace it: the
// file's, or 0 when the file shows no version in range. The replacement's version follows the file's (1 after 0), and the first of
// several writers to replace the file wins; the others get shoptoken.ErrConflict. A Cache replaces
// it with its next token. Delete clears it too.
//
// # Permissions
//
// New creates the directory with mode 0700 and refuses one that group or others may write;
// files are created with mode 0600. Every process sharing a directory must therefore run as the
// same user.
//
// # Locking
//
// Locks are flock(2) locks, which the kernel drops when the holding process exits or crashes;
// leases therefore need no renewal and the ttl passed to Lock is not used. TryLockLoad takes the
// lease with one non-blocking flock and reads the token file, never waiting; it costs what Lock
// and Load cost when the lease is free, without Lock's retries when it is not. flock coordinates the
// processes of one host only: do not share a directory between hosts over NFS or another network
// file system; use redisstore for a fleet. On systems without flock (Windows, Plan 9, wasm), New
// returns an error.
//
// # Sealing
//
// With WithSeal, tokens are sealed with a seal.Keyring (AES-256-GCM, see package seal, which also
// says how to rotate keys): the file's "token" is then a JSON string, "seal:v1:<key id>:...",
// bound to the key name and version, so a file copied to another key or with its version altered
// fails to load. Key names and versions stay readable in the files; the token does not. Files
// written in the clear before sealing was turned on still load, and are sealed by the next Save of
// their key; a file sealed with a key the keyring does not list is damaged (see above, and its
// error also wraps seal.ErrUnknownKey), and so is every sealed file for a Store without a keyring.
// Every process sharing a directory must therefore be able to open every key in use: roll keys as
// package seal describes; Reseal rewrites with the current key the files still sealed with an
// older key (or in clear), so that the older key can be dropped. Sealing does not stop someone with write access to the directory from
// deleting files, putting back an older file of the same key, or writing a token in clear.
//
// # Concurrency
//
// A Store is safe for concurrent use, and any number of Stores, in one process or many, may
// share a directory.
package filestore
