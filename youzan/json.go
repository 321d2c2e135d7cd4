package youzan

import (
	"bytes"
	"encoding/json"
)

// The platform's Java gateway is loose about scalar types (the seed documents code as Integer
// but data as "String", and client libraries send numbers as strings), and a lost answer can cost
// a rotated refresh token. So scalars are read tolerantly, by internal/jsonx: a string field
// accepts a JSON number (jsonx.String), a number field a numeric string (jsonx.Int), a boolean
// "true"/"false" (jsonx.Bool). Objects and arrays where a scalar belongs are still an error.

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
