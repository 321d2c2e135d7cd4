// Package vvtool obtains vv-tool (v兔, a Taobao tool API) access tokens with the
// client_credentials grant, keeps one token per Account for a whole fleet, and calls vv-tool APIs
// with it.
//
// vv-tool is unforgiving about tokens, and this package is shaped by that:
//
//   - every fetch kills the token the Account held before, on every server;
//   - a token fetched from one IP and used from another is judged stolen and invalidated;
//   - a sudden several-fold jump in use shortens a token's validity;
//   - a token otherwise lives about 3000 days, and the platform asks never to fetch one per request.
//
// So NewSource never refreshes ahead of expiry or on a timer: it fetches when there is no token,
// when it has expired, or when the platform rejected it (身份凭证无效) and it is still the current
// token; at most once per DefaultMinInterval; and, with a shared Store that is also a Locker, under
// a fleet-wide lease, so that one server fetches for all. NewClient attaches the token as
// "Authorization: Bearer <token>", recognises a rejection in any answer shape (Rejected), and
// recovers once; when a token fetched moments ago is rejected again it stops and explains the IP
// binding instead of fetching token after token.
//
// # One token per Account, no shops
//
// vv-tool has no shops: an Account has one token, named by the Key {"vvtool", Account} and stored
// as "vvtool/<Account>". There is therefore no NewApp and no Keeper (the token lives about 3000
// days and is never refreshed ahead). A fleet shares the token by giving every server NewSource
// with the same Store; the key is the same by construction:
//
//	cfg := vvtool.Config{Account: acct, AccessKey: key, Logger: logger}
//	src, err := vvtool.NewSource(cfg, shoptoken.WithStore(redisstore.New(rdb))) // every server
//	if err != nil { ... }
//	cl, err := vvtool.NewClient(cfg, src)
//	if err != nil { ... }
//	req, _ := http.NewRequestWithContext(ctx, "GET", "http://api.vv-tool.com/tool/members/info", nil)
//	resp, err := cl.Do(req) // or cl.HTTPClient() for a library that takes an *http.Client
//
// Config.HTTPClient sends both the token requests and the API calls, so that both leave from one
// address. Config.Logger and Config.Clock reach the Cache too.
//
// # The token request
//
// POST TokenURL with grant_type=client_credentials, client_id=Account, client_secret=AccessKey
// in a multipart/form-data body, never in the URL. Multipart is what the platform documents: its
// parameter table says 传参方式 form-data, and every example sends it (curl --form, PHP's
// CURLOPT_POSTFIELDS with an array, OkHttp's MultipartBody). It is the default because it is the
// only encoding known to work, and this package does not depend on what nobody confirmed.
// Config.Encoding = URLEncoded sends the same fields application/x-www-form-urlencoded instead, the
// OAuth 2.0 encoding (RFC 6749 §4.4), for a proxy or gateway in front of vv-tool that wants it;
// the PHP server behind the examples would most likely read it too, but that is not confirmed. The
// request is never retried once it may have reached the platform: a second fetch would kill the
// first one's token.
//
// Both answer shapes are accepted: {"access_token","expires_in","token_type","scope"} from
// /oauth/token, and the same inside {"code":0,"msg":"成功","data":{...}} from the newer
// /api/proxy/oauth/token. expires_in (seconds) may be a number or a quoted number; it is believed
// when it is positive and at most ten years, and otherwise (absent, unreadable, not positive, or
// longer) the documented 3000 days are assumed (DefaultTokenLifetime), so the expiry always lies
// inside years 1 to 9999 and the token can be stored. Members that only inform (token_type,
// scope, code, msg) are read whatever their JSON type: an issued token is never thrown away over a
// detail, because the fetch has already killed the previous one. The token
// records who fetched it in Token.Extra: ExtraFetchedBy (os.Hostname), ExtraFetchedFrom (the
// local IP address of the connection, when the transport is net/http's: behind NAT or a proxy it
// is not the address vv-tool saw) and, from a Cache, ExtraFetchReason. None of them is a secret.
//
// # Concurrency
//
// Config is a value and safe for concurrent use. The Cache from NewSource and the Client from
// NewClient are safe for concurrent use by any number of goroutines; concurrent callers that see
// the same rejection cause one fetch. Across processes and servers, give every one the same
// shoptoken.Store (redisstore, filestore).
//
// # Errors
//
// Every error this package makes is a *shoptoken.Error with Platform "vvtool", the HTTP status,
// the platform's code and message (secrets removed, each one printable line of bounded length;
// the whole message in RawMessage) and a Kind to match with errors.Is.
// The Cache's own refusals (its minimum interval, a wait given up) are *shoptoken.Error with an
// empty Platform, and Client.Do returns every error inside net/http's *url.Error, so match with
// errors.Is and errors.As rather than a type assertion:
//
//   - ErrCredentials: wrong Account or AccessKey (any HTTP 401 from the token endpoint, whatever
//     its body, an OAuth "invalid_client", a message about client_id/client_secret, or an empty
//     Config field);
//   - ErrTokenInvalid: 身份凭证无效 (from the token endpoint too, unless with HTTP 401);
//   - ErrPermission: a token fetched moments ago was rejected again (IP binding, or another server
//     fetching); the message says which host fetched it;
//   - ErrUnavailable: network failure, timeout, 5xx; ErrRateLimited: 429 or a "too frequent"
//     message, or the Cache's minimum interval; ErrBadRequest: other refusals, and NewClient
//     without a source;
//   - ErrBadResponse: an HTML page, an empty, truncated or oversized body, JSON of the wrong shape.
//
// The AccessKey and tokens never appear in errors, logs or fmt output.
//
// # Unverified behaviour
//
// The platform documents neither the HTTP status nor the code of 身份凭证无效: Rejected matches
// HTTP 401 with any body, and the message text in JSON answers of any status and in short plain
// text or HTML bodies. The token endpoint's error answers are undocumented: credential errors are
// recognised by OAuth error codes, HTTP 401 and their wording, anything else is classified by status
// (or by an HTTP-like "code" in a 200 answer), and an answer with no token and nothing recognisable
// is ErrBadResponse with a redacted snippet. Whether the platform accepts a urlencoded body (the
// URLEncoded option) was not confirmed against the real service; the seed shows multipart only,
// which is why multipart is the default. The thresholds of the abuse
// rule are unknown, which is why fetches are rare by design rather than tuned to a limit.
package vvtool
