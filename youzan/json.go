package youzan

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/shoptoken/shoptoken/internal/jsonx"
)

// The platform's Java gateway is loose about scalar types (the seed documents code as Integer
// but data as "String", and client libraries send numbers as strings), and a lost answer can cost
// a rotated refresh token. So scalars are read tolerantly: a string field accepts a JSON number,
// a number field accepts a numeric string (jsonx.Int), a boolean accepts "true"/"false". Objects and arrays
// where a scalar belongs are still an error.

// flexString reads a JSON string, number or null.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
		return nil
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*s = flexString(b)
		return nil
	}
	return jsonx.TypeError(b, reflect.TypeFor[string]())
}

// flexBool reads a JSON boolean, "true"/"false" or null (set is false then).
type flexBool struct {
	v   bool
	set bool
}

func (t *flexBool) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true", `"true"`:
		*t = flexBool{v: true, set: true}
	case "false", `"false"`:
		*t = flexBool{v: false, set: true}
	case "null":
		*t = flexBool{}
	default:
		return jsonx.TypeError(b, reflect.TypeFor[bool]())
	}
	return nil
}

// object returns raw as a JSON object: raw itself, or the object inside a JSON string (a
// "data" documented as String). ok is false for null, absent or anything else.
func object(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '{':
		return raw, true
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		inner := bytes.TrimSpace([]byte(s))
		if len(inner) > 0 && inner[0] == '{' && json.Valid(inner) {
			return inner, true
		}
	}
	return nil, false
}

// present reports whether raw holds a value other than null.
func present(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}
