package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"unsafe"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/reseal"
	"github.com/shoptoken/shoptoken/internal/tokenjson"
	"github.com/shoptoken/shoptoken/seal"
)

// maxToken is the largest encoded token MySQL's MEDIUMBLOB holds.
const maxToken = 1<<24 - 1

// codec turns the token of a store key into what the token column holds, and back: its JSON
// (package tokenjson, as redisstore and filestore write it), sealed with kr when the Store seals.
// The column is opaque to everything else (statements, polling, LoadMany).
type codec struct {
	kr *seal.Keyring // nil: in clear
}

// errNoKeyring is the reason a Store without a keyring gives for a sealed token.
var errNoKeyring = errors.New("the token is sealed, but the Store has no keyring (sqlstore.WithSeal)")

func (c codec) encode(key string, tok *shoptoken.Token) ([]byte, error) {
	data, err := tokenjson.Marshal(tok)
	if err == nil && c.kr != nil {
		var sealed string
		sealed, err = c.kr.Seal(key, data) // bound to the store key
		data = []byte(sealed)
	}
	if err != nil {
		return nil, err
	}
	if len(data) > maxToken {
		return nil, fmt.Errorf("the encoded token has %d bytes; the most a Store holds is %d", len(data), maxToken)
	}
	return data, nil
}

// decode reads the token column of key, and returns the id of the key that sealed it ("" when it
// was stored in clear). Its error never quotes data. data must not change afterwards: it is read
// in place.
func (c codec) decode(key string, data []byte) (_ *shoptoken.Token, sealedBy string, _ error) {
	text := unsafe.String(unsafe.SliceData(data), len(data))
	if !seal.IsSealed(text) { // plaintext JSON never starts so: it keeps the fast path
		tok, err := tokenjson.UnmarshalBytes(data)
		return tok, "", err
	}
	if c.kr == nil {
		return nil, "", errNoKeyring
	}
	plain, by, err := c.kr.Open(key, text)
	if err != nil {
		return nil, "", err
	}
	tok, err := tokenjson.UnmarshalBytes(plain)
	return tok, by, err
}

// Reseal rewrites each of keys whose token is not sealed with the Store's current key (sealed with
// an older key of its keyring, or stored in clear) through Save, which seals it with the current
// key: the last part of a key rotation (see package seal), for keys that nothing has written since
// the new key became current. It returns how many it rewrote. A key without a token is skipped; a
// key written meanwhile (shoptoken.ErrConflict) was sealed by its writer and is skipped too. A
// key that does not load (damage, such as a token sealed with a key the keyring lacks) is left as
// it is and reported in the error, which joins every failure. Each key costs one statement, and
// one more to rewrite it; ctx bounds the whole run.
func (s *Store) Reseal(ctx context.Context, keys []string) (int, error) {
	if s.cfg.kr == nil {
		return 0, errors.New("sqlstore: reseal: the Store has no keyring (WithSeal)")
	}
	return reseal.Run(ctx, "sqlstore", s.cfg.kr.Current(), keys, func(k string) (reseal.Stored, error) {
		if err := checkKey("reseal", k); err != nil {
			return reseal.Stored{}, err
		}
		var v int64
		var data sql.Null[[]byte]
		err := s.db.QueryRowContext(ctx, s.q.load, []byte(k)).Scan(&v, &data)
		if errors.Is(err, sql.ErrNoRows) {
			return reseal.Stored{}, shoptoken.ErrNotFound
		}
		if err != nil {
			return reseal.Stored{}, fmt.Errorf("sqlstore: reseal %q: %w", k, err)
		}
		tok, v, by, err := s.readSealed(k, v, data)
		return reseal.Stored{Token: tok, Version: v, SealedBy: by}, err
	}, s.Save)
}
