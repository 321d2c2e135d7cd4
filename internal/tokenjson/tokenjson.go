package tokenjson

import (
	"encoding/json"
	"errors"
	"unsafe"

	"github.com/shoptoken/shoptoken"
)

// plain has Token's fields without its methods, so the stored JSON holds every field verbatim
// whatever marshalling methods Token grows.
type plain shoptoken.Token

var (
	// ErrNotObject reports data that is not a JSON object: null, an array, a string, a number,
	// or something else that does not start with '{'.
	ErrNotObject = errors.New("the stored token is not a JSON object")
	// ErrInvalid reports data that starts as a JSON object but does not decode as a token.
	ErrInvalid = errors.New("the stored token is not valid JSON of a token")
)

// Marshal returns the stored form of tok: compact JSON, as json.Marshal writes a Token.
func Marshal(tok *shoptoken.Token) ([]byte, error) { return json.Marshal((*plain)(tok)) }

// Unmarshal decodes data, the stored form of a token, as json.Unmarshal into a Token does, and
// returns ErrNotObject or ErrInvalid for data it does not decode. For a token as Marshal writes
// it, without Scope and Extra, it costs two allocations (the Token and one string holding its
// strings), where encoding/json costs ten. The Token keeps no reference to data.
func Unmarshal(data string) (*shoptoken.Token, error) {
	if tok, ok := fastDecode(data); ok {
		return tok, nil
	}
	return slowDecode(data, nil)
}

// UnmarshalBytes is Unmarshal of data as a string, without copying it: Unmarshal keeps no
// reference to it, and data must not change while UnmarshalBytes runs.
func UnmarshalBytes(data []byte) (*shoptoken.Token, error) {
	s := unsafe.String(unsafe.SliceData(data), len(data))
	if tok, ok := fastDecode(s); ok {
		return tok, nil
	}
	return slowDecode(s, data)
}

// slowDecode decodes with encoding/json: raw is data's bytes if the caller has them.
func slowDecode(data string, raw []byte) (*shoptoken.Token, error) {
	i := 0
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	if i == len(data) || data[i] != '{' {
		return nil, ErrNotObject
	}
	if raw == nil {
		raw = []byte(data)
	}
	tok := new(shoptoken.Token)
	if err := json.Unmarshal(raw, (*plain)(tok)); err != nil {
		return nil, ErrInvalid // json's message may quote the data
	}
	return tok, nil
}
