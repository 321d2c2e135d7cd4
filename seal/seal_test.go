package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

const plainToken = `{"access_token":"at-SECRET-0123456789abcdef","refresh_token":"rt-SECRET-fedcba9876543210"}`

func secret(tb testing.TB) []byte {
	tb.Helper()
	b := make([]byte, SecretSize)
	_, _ = rand.Read(b)
	return b
}

func mustNew(tb testing.TB, current Key, older ...Key) *Keyring {
	tb.Helper()
	r, err := New(current, older...)
	require.NoError(tb, err)
	return r
}

// secretSpellings are the ways a key could show in output: raw, hex, base64.
func secretSpellings(k []byte) []string {
	return []string{string(k), hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)),
		base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)}
}

func TestKeyring_Seal_roundTrip(t *testing.T) {
	r := mustNew(t, Key{ID: "2026-12", Secret: secret(t)})
	for _, plain := range []string{plainToken, "", "x", strings.Repeat("长", 5000)} {
		sealed, err := r.Seal("youzan/app/88888", []byte(plain))
		require.NoError(t, err)
		assert.True(t, IsSealed(sealed))
		assert.True(t, strings.HasPrefix(sealed, "seal:v1:2026-12:"), sealed)
		testkit.NoSecret(t, "a sealed value", []string{plain}, sealed)
		got, id, err := r.Open("youzan/app/88888", sealed)
		require.NoError(t, err)
		assert.Equal(t, plain, string(got))
		assert.Equal(t, "2026-12", id)
	}
}

func TestKeyring_Seal_freshNonce(t *testing.T) {
	r := mustNew(t, Key{ID: "k", Secret: secret(t)})
	seen := map[string]bool{}
	for range 1000 {
		s, err := r.Seal("k", []byte(plainToken))
		require.NoError(t, err)
		require.False(t, seen[s], "two seals of one plaintext gave one value")
		seen[s] = true
	}
}

func TestIsSealed(t *testing.T) {
	for v, want := range map[string]bool{
		plainToken: false, " {}": false, "": false, "seal": false, "null": false,
		"seal:v1:k:AAAA": true, "seal:v9:whatever": true, "seal:": true,
	} {
		assert.Equal(t, want, IsSealed(v), "%q", v)
	}
}

func TestNew_invalid(t *testing.T) {
	good := secret(t)
	long := strings.Repeat("a", MaxIDLen+1)
	secretAsID := string(secret(t)) // a secret passed in the wrong field
	tests := []struct {
		name  string
		keys  []Key
		kind  error
		arg   int
		keyID string
	}{
		{"empty id", []Key{{ID: "", Secret: good}}, ErrKeyID, 0, ""},
		{"long id", []Key{{ID: long, Secret: good}}, ErrKeyID, 0, ""},
		{"id with a colon", []Key{{ID: "a:b", Secret: good}}, ErrKeyID, 0, ""},
		{"id with a space", []Key{{ID: "2026 12", Secret: good}}, ErrKeyID, 0, ""},
		{"secret as id", []Key{{ID: "ok", Secret: good}, {ID: secretAsID, Secret: good}}, ErrKeyID, 1, ""},
		{"nil secret", []Key{{ID: "a"}}, ErrKeySecret, 0, "a"},
		{"16-byte secret", []Key{{ID: "a", Secret: good[:16]}}, ErrKeySecret, 0, "a"},
		{"33-byte secret", []Key{{ID: "a", Secret: append(bytes.Clone(good), 1)}}, ErrKeySecret, 0, "a"},
		{"zero secret", []Key{{ID: "a", Secret: make([]byte, 32)}}, ErrKeySecret, 0, "a"},
		{"older key bad", []Key{{ID: "a", Secret: good}, {ID: "b", Secret: good[:31]}}, ErrKeySecret, 1, "b"},
		{"duplicate id", []Key{{ID: "a", Secret: good}, {ID: "b", Secret: good}, {ID: "a", Secret: secret(t)}}, ErrDuplicateID, 2, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(tt.keys[0], tt.keys[1:]...)
			require.ErrorIs(t, err, tt.kind)
			assert.Nil(t, r)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.arg, e.Arg)
			assert.Equal(t, tt.keyID, e.KeyID)
			assert.True(t, strings.HasPrefix(err.Error(), "seal: key "), err.Error())
			var secrets []string
			for _, k := range tt.keys {
				secrets = append(secrets, secretSpellings(k.Secret)...)
			}
			testkit.NoSecret(t, "New's error", append(secrets, secretAsID), testkit.ErrorTexts(err)...)
			testkit.PrintableLine(t, "New's error", err.Error(), 300)
		})
	}
}

func TestNew_copiesSecret(t *testing.T) {
	k := secret(t)
	orig := bytes.Clone(k)
	r := mustNew(t, Key{ID: "a", Secret: k})
	clear(k) // the caller wipes its copy
	sealed, err := r.Seal("b", []byte(plainToken))
	require.NoError(t, err)
	got, _, err := mustNew(t, Key{ID: "a", Secret: orig}).Open("b", sealed)
	require.NoError(t, err, "the Keyring sealed with the secret as it was when New was called")
	assert.Equal(t, plainToken, string(got))
}

func TestKeyring_Open_damaged(t *testing.T) {
	r := mustNew(t, Key{ID: "a", Secret: secret(t)})
	sealed, err := r.Seal("youzan/app/1", []byte(plainToken))
	require.NoError(t, err)
	head := len("seal:v1:a:")
	other := mustNew(t, Key{ID: "a", Secret: secret(t)}) // same id, another secret
	fromOther, err := other.Seal("youzan/app/1", []byte(plainToken))
	require.NoError(t, err)

	flip := func(i int) string {
		b := []byte(sealed)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name, bind, value string
	}{
		{"another bind", "youzan/app/2", sealed},
		{"bind as a prefix", "youzan/app/", sealed},
		{"nonce altered", "youzan/app/1", flip(head + 1)},
		{"ciphertext altered", "youzan/app/1", flip(head + 20)},
		{"tag altered", "youzan/app/1", flip(len(sealed) - 3)},
		{"truncated", "youzan/app/1", sealed[:len(sealed)-4]},
		{"only a nonce", "youzan/app/1", sealed[:head+16]},
		{"nothing after the id", "youzan/app/1", "seal:v1:a:"},
		{"no id", "youzan/app/1", "seal:v1:"},
		{"bad id", "youzan/app/1", "seal:v1:a b:" + sealed[head:]},
		{"not base64", "youzan/app/1", sealed[:head] + "!!!!" + sealed[head+4:]},
		{"padded base64", "youzan/app/1", sealed + "=="},
		{"another secret, same id", "youzan/app/1", fromOther},
		{"later format", "youzan/app/1", "seal:v2:a:" + sealed[head:]},
		{"plaintext", "youzan/app/1", plainToken},
		{"empty", "youzan/app/1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, id, err := r.Open(tt.bind, tt.value)
			require.ErrorIs(t, err, ErrDamaged)
			assert.NotErrorIs(t, err, ErrUnknownKey)
			assert.Nil(t, got)
			assert.Empty(t, id)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, -1, e.Arg)
			testkit.NoSecret(t, "Open's error", []string{plainToken, sealed[head:], tt.value[min(head, len(tt.value)):]}, testkit.ErrorTexts(err)...)
		})
	}
}

func TestKeyring_rotation(t *testing.T) {
	a, b := Key{ID: "2026-06", Secret: secret(t)}, Key{ID: "2026-12", Secret: secret(t)}
	onlyA := mustNew(t, a)
	sealedA, err := onlyA.Seal("k", []byte(plainToken))
	require.NoError(t, err)

	// Step 1: B is an opener everywhere; A still seals.
	step1 := mustNew(t, a, b)
	assert.Equal(t, "2026-06", step1.Current())
	assert.Equal(t, []string{"2026-06", "2026-12"}, step1.IDs())

	// Step 2: B seals; A still opens.
	step2 := mustNew(t, b, a)
	assert.Equal(t, "2026-12", step2.Current())
	plain, id, err := step2.Open("k", sealedA)
	require.NoError(t, err)
	assert.Equal(t, plainToken, string(plain))
	assert.Equal(t, "2026-06", id, "Open reports the key that opened the value: not Current, so reseal it")
	sealedB, err := step2.Seal("k", plain)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(sealedB, "seal:v1:2026-12:"))
	// A process still at step 1 opens what step 2 writes.
	_, id, err = step1.Open("k", sealedB)
	require.NoError(t, err)
	assert.Equal(t, "2026-12", id)

	// Step 3: A dropped. Values re-sealed open; those never re-sealed are unknown.
	step3 := mustNew(t, b)
	_, id, err = step3.Open("k", sealedB)
	require.NoError(t, err)
	assert.Equal(t, "2026-12", id)
	_, _, err = step3.Open("k", sealedA)
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.NotErrorIs(t, err, ErrDamaged)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "2026-06", e.KeyID)
	assert.Contains(t, err.Error(), `"2026-06"`)
	assert.Contains(t, err.Error(), "2026-12", "the error names the keys the process has")
	// And a process that skipped step 1 cannot open what step 2 writes.
	_, _, err = onlyA.Open("k", sealedB)
	require.ErrorIs(t, err, ErrUnknownKey)
}

func TestKeyring_nil(t *testing.T) {
	var r *Keyring
	_, err := r.Seal("k", []byte("x"))
	require.Error(t, err)
	_, _, err = r.Open("k", "seal:v1:a:AAAA")
	require.Error(t, err)
	assert.Empty(t, r.Current())
	assert.Empty(t, r.IDs())
	for _, out := range testkit.Printed(r) {
		assert.NotContains(t, out, "PANIC", "a nil Keyring prints without a panic")
	}
	assert.Equal(t, "seal.Keyring{}", r.String())
}

func TestPrint_noSecret(t *testing.T) {
	ka, kb := secret(t), secret(t)
	keyA, keyB := Key{ID: "2026-12", Secret: ka}, Key{ID: "2026-06", Secret: kb}
	r := mustNew(t, keyA, keyB)
	secrets := append(secretSpellings(ka), secretSpellings(kb)...)
	var outs []string
	for _, v := range []any{keyA, &keyA, []Key{keyA, keyB}, r, *r, struct{ K Key }{keyA},
		Key{ID: string(ka), Secret: kb}} {
		outs = append(outs, testkit.Printed(v)...)
	}
	testkit.NoSecret(t, "printed keys", secrets, outs...)
	assert.Equal(t, "seal.Key{ID: 2026-12, Secret: …(32)}", keyA.String())
	assert.Equal(t, "seal.Keyring{Current: 2026-12, Older: 2026-06}", r.String())
	assert.Contains(t, testkit.Printed(r)[7], `"v":{"current":"2026-12","older":"2026-06"}`)
}

// FuzzOpen checks that Open never panics, that every error has a kind, and that what opens is
// only ever what was sealed. (Each fuzz worker seals its own seed, with its own nonce.)
func FuzzOpen(f *testing.F) {
	r := mustNew(f, Key{ID: "a", Secret: bytes.Repeat([]byte{9}, 32)})
	sealed, err := r.Seal("k", []byte(plainToken))
	require.NoError(f, err)
	f.Add(sealed)
	f.Add("seal:v1:a:")
	f.Add(plainToken)
	f.Fuzz(func(t *testing.T, v string) {
		plain, id, err := r.Open("k", v)
		if err == nil && (string(plain) != plainToken || id != "a") {
			t.Fatalf("opened a value Seal did not make: %q", v)
		}
		if err != nil && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("error of no kind: %v", err)
		}
	})
}

func TestKey_MarshalJSON(t *testing.T) {
	k := secret(t)
	b, err := json.Marshal([]Key{{ID: "2026-12", Secret: k}})
	require.NoError(t, err)
	assert.JSONEq(t, `[{"id":"2026-12","secret":"…(32)"}]`, string(b))
	testkit.NoSecret(t, "a Key as JSON", secretSpellings(k), string(b))
}

// TestKeyring_concurrent: one Keyring seals and opens from many goroutines at once (run with
// -race), each value opening to its own plaintext.
func TestKeyring_concurrent(t *testing.T) {
	r := mustNew(t, Key{ID: "b", Secret: secret(t)}, Key{ID: "a", Secret: secret(t)})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				bind := "shop/" + strconv.Itoa(g)
				plain := []byte(plainToken + strconv.Itoa(i))
				sealed, err := r.Seal(bind, plain)
				if err != nil {
					bad.Add(1)
					continue
				}
				got, id, err := r.Open(bind, sealed)
				if err != nil || id != "b" || !bytes.Equal(got, plain) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, bad.Load(), "seals that did not open to their plaintext")
}
