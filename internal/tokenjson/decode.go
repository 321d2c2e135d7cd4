package tokenjson

import (
	"math/bits"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shoptoken/shoptoken"
)

// The fields of a Token in the order json.Marshal writes them, each as it starts in the JSON:
// its quoted name and the colon.
const (
	fAccess = iota
	fType
	fRefresh
	fExpiry
	fRefreshExpiry
	fIssued
	fScope
	fSubject
	fExtra
	nFields
)

var fieldNames = [nFields]string{
	fAccess:        `"access_token":`,
	fType:          `"token_type":`,
	fRefresh:       `"refresh_token":`,
	fExpiry:        `"expiry":`,
	fRefreshExpiry: `"refresh_expiry":`,
	fIssued:        `"issued_at":`,
	fScope:         `"scope":`,
	fSubject:       `"subject":`,
	fExtra:         `"extra":`,
}

// span is a string's place in the data: data[lo:hi].
type span struct{ lo, hi int }

// tokenParser holds what fastDecode has found so far.
type tokenParser struct {
	data string
	i    int

	access, typ, refresh, subject span
	scope                         []span   // nil: no "scope"; empty, non-nil: "scope":[]
	scopeRaw                      span     // the scope array as written, "[" to "]"
	shared                        []string // an interned list equal to the scope array, if any
	extra                         []span   // key, value, key, value…
	hasExtra                      bool
	tok                           *shoptoken.Token
}

// fastDecode decodes data if it has the shape json.Marshal gives a Token; false otherwise.
func fastDecode(data string) (*shoptoken.Token, bool) {
	p := tokenParser{data: data, tok: new(shoptoken.Token)}
	if !p.object() {
		return nil, false
	}
	p.finish()
	return p.tok, true
}

// object reads the fields in json.Marshal's order, each at most once (a field repeated, which
// encoding/json would merge or overwrite, is not in this order).
func (p *tokenParser) object() bool {
	d := p.data
	if len(d) < 2 || d[0] != '{' || d[len(d)-1] != '}' {
		return false
	}
	p.i = 1
	if d[1] == '}' {
		return len(d) == 2
	}
	next := 0 // the first field that may still come
	for {
		f := fieldAt(d, p.i)
		if f < next {
			return false // unknown, repeated or out of order
		}
		p.i += len(fieldNames[f])
		next = f + 1
		if !p.field(f) || p.i >= len(d) {
			return false
		}
		switch d[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return p.i == len(d)
		default:
			return false
		}
	}
}

// fieldAt returns the field whose name starts at d[i], or -1. Its first letter (and for two
// pairs, one more) tells which it can be.
func fieldAt(d string, i int) int {
	if i+4 >= len(d) || d[i] != '"' {
		return -1
	}
	f := -1
	switch d[i+1] {
	case 'a':
		f = fAccess
	case 't':
		f = fType
	case 'r':
		f = fRefresh
		if i+9 < len(d) && d[i+9] == 'e' { // "refresh_expiry", not "refresh_token"
			f = fRefreshExpiry
		}
	case 'e':
		f = fExpiry
		if d[i+3] == 't' { // "extra", not "expiry"
			f = fExtra
		}
	case 'i':
		f = fIssued
	case 's':
		f = fScope
		if d[i+2] == 'u' { // "subject", not "scope"
			f = fSubject
		}
	default:
		return -1
	}
	if !strings.HasPrefix(d[i:], fieldNames[f]) {
		return -1
	}
	return f
}

// field reads the value of field f.
func (p *tokenParser) field(f int) bool {
	var ok bool
	switch f {
	case fAccess:
		p.access, ok = p.str()
	case fType:
		p.typ, ok = p.str()
	case fRefresh:
		p.refresh, ok = p.str()
	case fSubject:
		p.subject, ok = p.str()
	case fExpiry:
		ok = p.time(&p.tok.Expiry)
	case fRefreshExpiry:
		ok = p.time(&p.tok.RefreshExpiry)
	case fIssued:
		ok = p.time(&p.tok.IssuedAt)
	case fScope:
		ok = p.strings()
	case fExtra:
		ok = p.stringMap()
	}
	return ok
}

func (p *tokenParser) time(t *time.Time) bool {
	s, ok := p.str()
	return ok && parseTime(p.data[s.lo:s.hi], t)
}

// str reads a JSON string without escapes, of valid UTF-8, and returns its contents' span.
func (p *tokenParser) str() (span, bool) {
	d := p.data
	if p.i >= len(d) || d[p.i] != '"' {
		return span{}, false
	}
	lo := p.i + 1
	ascii := true
	for j := lo; ; {
		j = special(d, j)
		if j == len(d) {
			return span{}, false
		}
		switch c := d[j]; {
		case c == '"':
			if !ascii && !utf8.ValidString(d[lo:j]) {
				return span{}, false // encoding/json replaces invalid bytes
			}
			p.i = j + 1
			return span{lo, j}, true
		case c >= 0x80:
			ascii = false
			j++
		default: // a backslash or a control character
			return span{}, false
		}
	}
}

// Eight copies of a byte, for special's word-at-a-time checks.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	spaces = 0x20 * ones
	quotes = '"' * ones
	slashs = '\\' * ones
)

// special returns the index of the first byte of d at or after j that a JSON string must look
// at: a quote, a backslash, a control character or a byte of a multi-byte character; len(d) if
// there is none. It looks at eight bytes at a time.
func special(d string, j int) int {
	for s := d[j:]; len(s) >= 8; s = s[8:] {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		// The high bit of each byte that is at or above 0x80, below 0x20, a quote or a
		// backslash. A borrow may flag a byte above a flagged one falsely, never the lowest.
		q, b := w^quotes, w^slashs
		m := (w | (w - spaces) | ((q - ones) &^ q) | ((b - ones) &^ b)) & highs
		if m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
		j += 8
	}
	for ; j < len(d); j++ {
		if c := d[j]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return j
		}
	}
	return j
}

// strings reads a JSON array of strings into p.scope, or finds it among the interned scope lists
// (an app's shops have one: a Youzan token carries some fifty scopes, the same for every shop).
func (p *tokenParser) strings() bool {
	d := p.data
	if p.i >= len(d) || d[p.i] != '[' {
		return false
	}
	if end := strings.IndexByte(d[p.i:], ']'); end > 0 {
		if l, ok := scopes.get(d[p.i : p.i+end+1]); ok {
			p.shared, p.scopeRaw = l, span{p.i, p.i + end + 1}
			p.i += end + 1
			return true
		}
	}
	lo := p.i
	defer func() { p.scopeRaw = span{lo, p.i} }()
	p.i++
	p.scope = make([]span, 0, 8)
	if p.i < len(d) && d[p.i] == ']' {
		p.i++
		return true
	}
	for {
		s, ok := p.str()
		if !ok || p.i >= len(d) {
			return false
		}
		p.scope = append(p.scope, s)
		switch d[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

// stringMap reads a JSON object of strings into p.extra.
func (p *tokenParser) stringMap() bool {
	d := p.data
	if p.i >= len(d) || d[p.i] != '{' {
		return false
	}
	p.i++
	p.hasExtra = true
	if p.i < len(d) && d[p.i] == '}' {
		p.i++
		return true
	}
	for {
		k, ok := p.str()
		if !ok || p.i >= len(d) || d[p.i] != ':' {
			return false
		}
		p.i++
		v, ok := p.str()
		if !ok || p.i >= len(d) {
			return false
		}
		p.extra = append(p.extra, k, v)
		switch d[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// finish copies every string into one allocation, so that the token keeps neither the stored
// JSON alive nor a dozen small strings.
func (p *tokenParser) finish() {
	n := 0
	for _, s := range [...]span{p.access, p.typ, p.refresh, p.subject} {
		n += s.hi - s.lo
	}
	for _, s := range p.scope { // empty when the list was interned
		n += s.hi - s.lo
	}
	for _, s := range p.extra {
		n += s.hi - s.lo
	}
	var b strings.Builder
	b.Grow(n)
	at := func(s span) span {
		lo := b.Len()
		b.WriteString(p.data[s.lo:s.hi])
		return span{lo, b.Len()}
	}
	access, typ, refresh, subject := at(p.access), at(p.typ), at(p.refresh), at(p.subject)
	for i, s := range p.scope {
		p.scope[i] = at(s)
	}
	for i, s := range p.extra {
		p.extra[i] = at(s)
	}
	all := b.String()
	t := p.tok
	t.AccessToken = all[access.lo:access.hi]
	t.TokenType = all[typ.lo:typ.hi]
	t.RefreshToken = all[refresh.lo:refresh.hi]
	t.Subject = all[subject.lo:subject.hi]
	switch {
	case p.shared != nil:
		t.Scope = append([]string(nil), p.shared...) // the caller's own slice; the strings are shared
	case p.scope != nil:
		t.Scope = make([]string, len(p.scope))
		for i, s := range p.scope {
			t.Scope[i] = all[s.lo:s.hi]
		}
		if len(t.Scope) > 0 {
			scopes.put(p.data[p.scopeRaw.lo:p.scopeRaw.hi], append([]string(nil), t.Scope...))
		}
	}
	if p.hasExtra {
		t.Extra = make(map[string]string, len(p.extra)/2)
		for i := 0; i < len(p.extra); i += 2 {
			k, v := p.extra[i], p.extra[i+1]
			t.Extra[all[k.lo:k.hi]] = all[v.lo:v.hi] // a repeated key: the last wins, as in encoding/json
		}
	}
}

// zeroTime is how json.Marshal writes the zero time.Time.
const zeroTime = "0001-01-01T00:00:00Z"

// parseTime parses s as time.Time.UnmarshalJSON does when s is RFC 3339 as json.Marshal writes
// it ("2006-01-02T15:04:05[.999999999](Z|±07:00)", fields in range) and reports false for
// anything else, which is left to encoding/json. As UnmarshalJSON, it gives UTC for "Z", and for
// an offset the local zone if that has the offset at that instant, else a fixed zone.
func parseTime(s string, t *time.Time) bool {
	if s == zeroTime {
		*t = time.Time{}
		return true
	}
	if len(s) < len(zeroTime) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return false
	}
	year := digits(s[0:4])
	month, day := digits(s[5:7]), digits(s[8:10])
	hour, minute, sec := digits(s[11:13]), digits(s[14:16]), digits(s[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return false
	}
	rest := s[19:]
	nsec := 0
	if len(rest) >= 2 && rest[0] == '.' && isDigit(rest[1]) {
		n := 1
		for ; n < len(rest) && isDigit(rest[n]); n++ {
			if n <= 9 { // further digits are dropped, as time does
				nsec = nsec*10 + int(rest[n]-'0')
			}
		}
		for i := n; i <= 9; i++ {
			nsec *= 10
		}
		rest = rest[n:]
	}
	unix := (daysSinceEpoch(year, month, day)*24+int64(hour))*3600 + int64(minute)*60 + int64(sec)
	if rest == "Z" {
		*t = time.Unix(unix, int64(nsec)).UTC()
		return true
	}
	if len(rest) != 6 || rest[0] != '+' && rest[0] != '-' || rest[3] != ':' {
		return false
	}
	zh, zm := digits(rest[1:3]), digits(rest[4:6])
	if zh < 0 || zh > 23 || zm < 0 || zm > 59 {
		return false
	}
	offset := (zh*60 + zm) * 60
	if rest[0] == '-' {
		offset = -offset
	}
	v := time.Unix(unix-int64(offset), int64(nsec)) // in time.Local
	if _, local := v.Zone(); local != offset {
		v = v.In(time.FixedZone("", offset))
	}
	*t = v
	return true
}

// digits returns the value of s, decimal digits, or -1.
func digits(s string) int {
	n := 0
	for i := range len(s) {
		if !isDigit(s[i]) {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch returns the days from 1970-01-01 to the given date of the proleptic Gregorian
// calendar (H. Hinnant's days_from_civil), for years 0 to 9999.
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := year - era*400
	m := month + 9
	if month > 2 {
		m = month - 3
	}
	doy := (153*m+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// scopes holds the scope lists decoded most recently, keyed by their JSON text, so that thousands
// of tokens of one app, read from a store together, skip parsing the same fifty scopes and share
// their strings (a Cache's published tokens then share one list). The lists here are never handed
// out: each decoded Token gets its own copy, which its caller may change.
var scopes scopeTable

type scopeTable struct {
	mu sync.RWMutex
	m  map[string][]string
}

// maxScopeLists bounds the table: the distinct scope lists of a fleet are few.
const maxScopeLists = 256

func (t *scopeTable) get(raw string) ([]string, bool) {
	t.mu.RLock()
	l, ok := t.m[raw]
	t.mu.RUnlock()
	return l, ok
}

func (t *scopeTable) put(raw string, l []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string][]string{}
	}
	if _, ok := t.m[raw]; !ok && len(t.m) < maxScopeLists {
		t.m[strings.Clone(raw)] = l
	}
}
