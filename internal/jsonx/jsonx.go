// Package jsonx reads the loosely typed JSON scalars the platforms send. Their gateways quote
// numbers (PHP, Java), write integers as floats, or send null, and an answer dropped over such a
// detail can cost a token that was already issued (and so killed the previous one). The readers
// here accept every reasonable spelling and report the rest as *json.UnmarshalTypeError naming
// only the JSON kind, never the value, which may sit where a secret was expected.
//
// Int, String and Bool read a member of a documented type in every reasonable spelling and fail on
// the rest. MaybeInt and Text are their forms that never fail to decode, for members an answer
// must never be dropped over (an id, a message, a lifetime next to a token the platform has just
// issued).
package jsonx

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
)

// Int is a JSON integer; a string holding one; or a finite number with a fraction or an exponent
// (1.583720718116E12), truncated. null, "" and an absent member leave Set false.
type Int struct {
	N   int64
	Set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (i *Int) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*i = Int{}
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] != '"' { // the common case, an integer, parsed without a copy of b
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			*i = Int{N: n, Set: true}
			return nil
		}
	}
	raw := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		if raw = string(bytes.TrimSpace([]byte(raw))); raw == "" {
			return nil
		}
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		*i = Int{N: n, Set: true}
		return nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > 9e18 || f < -9e18 {
		return TypeError(b, reflect.TypeFor[int64]())
	}
	*i = Int{N: int64(f), Set: true}
	return nil
}

// Kind names the JSON type of the value b holds: "object", "array", "string", "bool", "null",
// "number", or "nothing" for an empty b.
func Kind(b []byte) string {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == '"':
		return "string"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	case b[0] == 'n':
		return "null"
	}
	return "number"
}

// TypeError reports that b, of the wrong JSON kind, cannot go into a value of type t. It names the
// kind, not the value.
func TypeError(b []byte, t reflect.Type) error {
	return &json.UnmarshalTypeError{Value: Kind(b), Type: t}
}
