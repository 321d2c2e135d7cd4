//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/filestore"
	"github.com/shoptoken/shoptoken/seal"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "filestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Every process that opens this directory shares the tokens and the leases in it.
	store, err := filestore.New(filepath.Join(dir, "tokens"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	unlock, err := store.Lock(ctx, "youzan/88888", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	v, err := store.Save(ctx, "youzan/88888", &shoptoken.Token{AccessToken: "at-1", Subject: "88888"}, 0)
	unlock()
	if err != nil {
		log.Fatal(err)
	}

	tok, version, err := store.Load(ctx, "youzan/88888")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v, version, tok.Subject)

	// A second writer that read version 0 loses the compare-and-swap.
	_, err = store.Save(ctx, "youzan/88888", &shoptoken.Token{AccessToken: "at-2"}, 0)
	fmt.Println(err)
	// Output:
	// 1 1 88888
	// shoptoken: version conflict
}

func ExampleWithSeal() {
	dir, err := os.MkdirTemp("", "filestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// In production, load the secret from a secret manager; every process needs the same keys.
	secret := make([]byte, seal.SecretSize)
	if _, err := rand.Read(secret); err != nil {
		log.Fatal(err)
	}
	kr, err := seal.New(seal.Key{ID: "2026-12", Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	store, err := filestore.New(dir, filestore.WithSeal(kr))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := store.Save(ctx, "vvtool/acct", &shoptoken.Token{AccessToken: "at-sealed"}, 0); err != nil {
		log.Fatal(err)
	}
	tok, _, err := store.Load(ctx, "vvtool/acct")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken)

	// On disk, only the key and version are readable.
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	data, _ := os.ReadFile(files[0])
	fmt.Println(strings.Contains(string(data), "at-sealed"), strings.Contains(string(data), `"token":"seal:v1:2026-12:`))
	// Output:
	// at-sealed
	// false true
}
