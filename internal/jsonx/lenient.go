package jsonx

import "bytes"

// Text is a String for a member that only informs (an id, a message, a code, a subject): a string
// as it is, a number or a boolean as its JSON literal, and null, an object or an array as "". It
// never fails to decode: an answer that carries a token the platform has just issued (and paid
// for with a code, or with the token it replaced) must not be thrown away over a member like this.
// Use String where the platform documents a string and another type means a broken answer.
type Text string

// UnmarshalJSON implements json.Unmarshaler; it never returns an error.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*t = ""
	var s String
	switch {
	case s.UnmarshalJSON(b) == nil:
		*t = Text(s)
	case Kind(b) == "bool":
		*t = Text(b)
	}
	return nil
}

// MaybeInt is an Int for a member that must never cost the answer around it, such as the
// lifetime next to a token the platform has just issued: what Int cannot read (a word, an object,
// a number past int64) leaves Set false and Invalid true instead of failing the decode, so that
// the caller can fall back to a documented default and say so.
type MaybeInt struct {
	Int
	// Invalid reports that the member was present but is no integer Int can read.
	Invalid bool
}

// UnmarshalJSON implements json.Unmarshaler; it never returns an error.
func (m *MaybeInt) UnmarshalJSON(b []byte) error {
	*m = MaybeInt{}
	if err := m.Int.UnmarshalJSON(b); err != nil {
		*m = MaybeInt{Invalid: true}
	}
	return nil
}
