package seal_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/shoptoken/shoptoken/seal"
)

// newSecret stands in for a secret manager.
func newSecret() []byte {
	b := make([]byte, seal.SecretSize)
	_, _ = rand.Read(b)
	return b
}

// A rotation: values sealed with the old key keep opening once a new key is current, Open says
// which key opened them, and once the old key is dropped what was never sealed again no longer
// opens.
func ExampleNew() {
	june := seal.Key{ID: "2026-06", Secret: newSecret()}
	dec := seal.Key{ID: "2026-12", Secret: newSecret()}

	before, err := seal.New(june)
	if err != nil {
		log.Fatal(err)
	}
	old, _ := before.Seal("youzan/app/88888", []byte(`{"access_token":"..."}`))
	fmt.Println(strings.HasPrefix(old, "seal:v1:2026-06:"))

	// Deploy 1 adds dec as an opener: seal.New(june, dec). Deploy 2 makes it current:
	during, err := seal.New(dec, june)
	if err != nil {
		log.Fatal(err)
	}
	plain, id, err := during.Open("youzan/app/88888", old)
	fmt.Println(string(plain), id, err)
	resealed, _ := during.Seal("youzan/app/88888", plain) // what a store's next write does
	fmt.Println(strings.HasPrefix(resealed, "seal:v1:2026-12:"))

	// A sealed token does not open under another shop's key.
	_, _, err = during.Open("youzan/app/99999", resealed)
	fmt.Println(errors.Is(err, seal.ErrDamaged))

	// Deploy 3 drops june.
	after, _ := seal.New(dec)
	_, _, err = after.Open("youzan/app/88888", old)
	fmt.Println(errors.Is(err, seal.ErrUnknownKey))

	// Keys print without their secrets.
	fmt.Println(dec, during)
	// Output:
	// true
	// {"access_token":"..."} 2026-06 <nil>
	// true
	// true
	// true
	// seal.Key{ID: 2026-12, Secret: …(32)} seal.Keyring{Current: 2026-12, Older: 2026-06}
}

// New refuses a short secret, naming the key but never showing the secret.
func ExampleNew_invalid() {
	_, err := seal.New(seal.Key{ID: "2026-12", Secret: []byte("sixteen byte key")})
	fmt.Println(err)
	fmt.Println(errors.Is(err, seal.ErrKeySecret))
	// Output:
	// seal: key 0 ("2026-12"): invalid key secret: 16 bytes long, want 32
	// true
}
