// Package httpx sends the SDK's platform requests: it is the only package that imports resty, and
// it owns timeouts, retries, response size limits, URL and body redaction and JSON decoding, so that
// every provider package behaves the same way on the wire.
//
// # Answers and errors
//
// [Client.Do] returns a [Response] whenever an HTTP answer arrived, whatever its status, because the
// platforms put errors in 200 answers as well as in 4xx and 5xx bodies: classifying them is the
// provider's job. Do returns an error only when no usable answer arrived: a network failure, a
// timeout, a cancelled context (all [shoptoken.ErrUnavailable]) or a body larger than
// [Config.MaxBody] ([shoptoken.ErrBadResponse]). Errors are always *[shoptoken.Error].
//
// # Retries
//
// A request is sent again only when that cannot do harm:
//
//   - a failure to connect (dial, DNS, proxy connect) other than a timeout is retried for every
//     request, because nothing was sent;
//   - when [Request.Idempotent] is set, 502, 503 and 504 answers are retried, 429 is retried when it
//     carries a Retry-After, and other network failures after the request was sent (connection reset,
//     early EOF) are retried too;
//   - timeouts and cancelled contexts are never retried: the caller's deadline is spent.
//
// Token fetches on these platforms can be destructive (a repeated veapi refresh with a rotated
// refresh token ends the chain), so a request that may have reached the server is never repeated
// unless it is marked Idempotent.
//
// Between attempts the client waits a capped exponential backoff with full jitter. A Retry-After on
// 429 or 503 (seconds or an HTTP date) replaces the backoff when it is at most 30 seconds, whatever
// [Config.BackoffMax] says; a longer Retry-After is not waited for, and the answer is returned as is.
// No wait outlives the context's deadline: when the deadline would pass first, the last answer is
// returned at once.
//
// Resty carries this policy out (SetRetryCount, a retry condition per request, SetRetryAfter,
// SetResponseBodyLimit); the code here says only what resty cannot: which failures may be retried,
// the jitter, the deadline, and the redirects below.
//
// # Redirects
//
// Every request the Client sends carries a secret (an app secret, a refresh token, an
// authorization code, an access token) in its body or its query, so a redirect to another scheme,
// host or port is never followed: net/http would send a 307 or 308's body again to wherever
// Location points, and after a 301, 302 or 303 it would GET that place and hand back its answer as
// the platform's. Such an answer is a *shoptoken.Error of Kind ErrBadResponse naming the status
// and the other origin (scheme and host, never the Location's path or query). A redirect to the
// same origin is followed only when [Config.FollowSameOrigin] is set, for a platform known to use
// one; none of the four is, so by default none is followed either.
//
// # Redaction
//
// Error strings, debug logs and body snippets never show a secret: query parameters whose names
// are secret (see redact.IsSecretParam) are shortened in every URL, the values listed in
// [Request.Secrets] are shortened wherever they appear (also URL- and JSON-escaped), request bodies
// are never logged and response bodies appear only as a [Snippet].
//
// # Decoding
//
// [Response.DecodeJSON] accepts a body that starts with a UTF-8 byte order mark (it is stripped, as
// some gateways add one), and, like encoding/json, replaces invalid UTF-8 inside JSON strings with
// U+FFFD rather than rejecting the whole answer (a platform's message in a legacy encoding should not
// hide its error code). A body that is empty, markup, malformed, truncated, the JSON literal null,
// or of the wrong shape for the target is an error.
//
// # Concurrency
//
// A [Client] is safe for concurrent use by multiple goroutines.
package httpx
