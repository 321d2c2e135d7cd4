// Package tokenjson is the stored form of a shoptoken.Token, the one every store writes and reads:
// compact JSON as json.Marshal writes a Token (Marshal), decoded by a reader of its own
// (Unmarshal) that gives exactly what encoding/json gives.
//
// Why a decoder of its own: a fleet's cold start loads 100 000 tokens and more with LoadMany, and
// encoding/json spent more CPU decoding them (about ten allocations a token) than the store
// spent fetching them. The stored format stays what json.Marshal writes, so that tokens written
// by earlier versions load, and processes of the previous version, during a rolling deploy, read
// the tokens this one writes. The fast path reads only that shape: the known fields once each, in
// json.Marshal's order, strings without escapes, times in RFC 3339. Anything else (escapes,
// whitespace, null, unknown or repeated fields, numbers, invalid UTF-8) is left to encoding/json,
// so the result is always what json.Unmarshal gives; FuzzUnmarshal checks that.
//
// Errors never quote the data (encoding/json's messages may: a time it could not parse, say),
// since a damaged value may hold a secret.
package tokenjson
