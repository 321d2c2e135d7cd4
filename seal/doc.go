// Package seal encrypts tokens at rest with AES-256-GCM under named keys, so that a store (Redis,
// files, a database) never holds a refresh token in clear, and so that keys can be rotated without
// stopping the fleet. It is the one sealing implementation of the module: filestore, redisstore
// and sqlstore take a *Keyring (filestore.WithSeal, redisstore.WithSeal, sqlstore.WithSeal), and
// so should any store you write.
//
// Configure a Keyring once and hand the same one to every store of the process:
//
//	kr, err := seal.New(seal.Key{ID: "2026-12", Secret: current32},
//		seal.Key{ID: "2026-06", Secret: previous32}) // older keys still open what they sealed
//	if err != nil {
//		return err // names the key and the fault, never the secret
//	}
//	store := redisstore.New(rdb, redisstore.WithSeal(kr))
//
// # What a sealed value is
//
// Seal encrypts with the current key (the first one given to New) and a random 96-bit nonce, and
// returns text: "seal:v1:", the key's id, ":", and the nonce, ciphertext and tag in unpadded
// base64url. Text, so that it fits a Redis string, a JSON string and a SQL text column alike.
// Open reads the id, looks the key up among all the Keyring lists, and reports which key opened
// the value. A value that is not sealed starts with something else: IsSealed tells, so a store can
// still read plaintext JSON written before sealing was turned on. Such a value is re-sealed by the
// store's next write of its key; the stores here do not refuse plaintext, so sealing can be turned
// on in a running fleet, which also means that it hides tokens from readers of the store but does
// not stop someone who can write to it from planting a plaintext token.
//
// Each value is bound to what it belongs to (bind, the store key: "youzan/app/88888"), which is
// authenticated as GCM additional data together with the key id: a sealed token copied under
// another shop's key, or altered in any way, does not open (ErrDamaged). The store key's bytes are
// not stored in the value; binding costs nothing at rest.
//
// # What a store does with a value that does not open
//
// A value that fails to open (ErrDamaged: altered, moved, sealed with another secret under the
// same id; ErrUnknownKey: sealed with a key the Keyring does not list) is damage for the store: it
// reports shoptoken.ErrCorrupt, and a shoptoken.Cache replaces it with its next token, as it
// replaces any damaged value. For a platform whose tokens can be fetched again (client
// credentials, Youzan's silent authorization) that costs a platform call. For a platform that
// refreshes with a rotating refresh token, the refresh token in the value is lost: the merchant
// must authorize again. A process that lacks a key therefore does harm, which is why keys are
// rolled in the order below.
//
// # Rotating keys
//
// Every process that shares a store must be able to open everything in it at every moment. Roll a
// new key N over the current key C in three deploys, each finished on every process before the
// next starts:
//
//  1. Add N as an older key: seal.New(C, N). Every process now opens N but still seals with C.
//  2. Make N current: seal.New(N, C). Every write now seals with N; values sealed with C still
//     open, and are re-sealed with N when their key is next written (a refresh, a Set, a Save).
//  3. Once every value has been written since step 2, drop C: seal.New(N). The stores' Reseal
//     (filestore.Store.Reseal, redisstore.Store.Reseal, sqlstore.Store.Reseal) rewrites the
//     values nothing else has written: run it over all your keys, from a process at step 2,
//     before this deploy.
//
// Skipping step 1 leaves, during the deploy of step 2, processes that still run seal.New(C) and
// cannot open what the new ones write: each sees ErrCorrupt, replaces the token, and the two
// halves of the fleet keep replacing each other's tokens until the deploy ends. Dropping C before
// a value sealed with it has been rewritten turns that value into damage. Keys that a keeper
// (shops.App.Run) keeps refreshed are all rewritten within one token lifetime, since a refresh
// saves the new token; a key nothing refreshes keeps its old seal until something writes it, or
// Reseal does.
// Open reports the id of the key that opened a value: a value opened with another than Current
// is one that a rotation has not reached yet.
//
// A key's id is stored in clear in every value and shown in errors: choose ids that name the key
// (a date, a version), never ones derived from the secret. A secret is 32 bytes from a secret
// manager or crypto/rand, never a password. Random nonces keep AES-GCM safe for about 2^32 values
// per key: at 100 000 shops refreshed every two hours, nine years; rotate well before.
//
// # Secrets
//
// New copies the secrets it is given, so the caller may wipe its slices afterwards, and keeps
// only the AES key schedules. Key and Keyring print (fmt, every verb, slog, encoding/json) with
// ids and secret lengths only; errors never contain a secret, nor anything of a sealed value but
// the id of the key it names.
//
// # Concurrency
//
// A Keyring is immutable and safe for concurrent use. To rotate, build a new Keyring and a new
// store with it; stores with different Keyrings may share data, as processes do.
package seal
