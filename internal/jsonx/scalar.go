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
