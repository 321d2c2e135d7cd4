package jsonx

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// String is a JSON string, or a number kept as its literal (a gateway that writes an id or a code
// as a number). null and an absent member leave it "". A boolean, object or array is an error:
// a String stands where the platform documents a string.
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*s = ""
	switch Kind(b) {
	case "null", "nothing":
		return nil
	case "string":
		if plain(b) {
			*s = String(b[1 : len(b)-1]) // what json.Unmarshal would give, without a second decoder
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
		return nil
	case "number":
		if !json.Valid(b) {
			return TypeError(b, reflect.TypeFor[string]())
		}
		*s = String(b)
		return nil
	}
	return TypeError(b, reflect.TypeFor[string]())
}

// plain reports whether b is a JSON string of printable ASCII without escapes: its value is its
// inside as written. (The caller's decoder has already checked that b is one literal.)
func plain(b []byte) bool {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c > 0x7e || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

// Bool is a JSON boolean, or one spelled "true"/"false" (any case) or 1/0, quoted or not. null, ""
// and an absent member leave Set false; anything else is an error.
type Bool struct {
	V   bool
	Set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Bool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*t = Bool{}
	switch string(b) { // the common case, a JSON boolean, without a copy of b
	case "true":
		*t = Bool{V: true, Set: true}
		return nil
	case "false":
		*t = Bool{V: false, Set: true}
		return nil
	}
	raw := string(b)
	if Kind(b) == "string" {
		if json.Unmarshal(b, &raw) != nil {
			return TypeError(b, reflect.TypeFor[bool]())
		}
	}
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "true", "1":
		*t = Bool{V: true, Set: true}
	case "false", "0":
		*t = Bool{V: false, Set: true}
	case "null", "", `""`:
	default:
		return TypeError(b, reflect.TypeFor[bool]())
	}
	return nil
}
