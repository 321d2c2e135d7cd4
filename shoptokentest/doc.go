// Package shoptokentest is shoptoken's public test kit: local httptest servers that emulate
// the token semantics of the four platforms, so tests of code that uses shoptoken run offline.
//
// Each emulator (Youzan, VVTool, VipAuth, Veapi) answers with the platforms' wire formats,
// their real error codes where those are known, and their destructive semantics: a new
// vv-tool token kills the previous one, a rotated refresh token dies at once, a superseded
// Youzan token is rejected. Every emulator counts what it saw (Stats), injects faults into
// the next answers (FailNext for the token endpoint, FailAPI for API endpoints), can wait
// before answering (WithLatency, SetLatency), runs on a clock the test controls (WithClock),
// and can expire everything it issued at once (ExpireNow). Handler serves an emulator's
// endpoints from a server of your own under a base path (the shoptoken command's emulate verb
// serves all four on one port that way, for programs in other languages); ParseFault names a
// fault in text. Lifetimes default to the platforms' and
// can be made short with WithTokenTTL and WithRefreshTTL.
//
// The package imports only the standard library; it does not depend on shoptoken. The
// emulators never log.
//
// # Strict and lenient
//
// Every emulator is strict by default: it accepts requests only in the shape the platform's own
// documentation shows, so that a client that departs from the documented wire format, or sends
// to a shop that never authorized the app, fails its tests instead of failing in production.
// Strict means:
//
//   - vv-tool: credentials only in a multipart/form-data POST body (the documentation's curl
//     --form), never urlencoded, never in the query;
//   - vip.com: token, token_info and revoke_token parameters only in the query string of the
//     POST, the API's access_token only in the query (where every documented example puts them);
//     only registered redirect URIs (WithRedirectURIs, VipAuthRedirectURI by default) and OOB;
//   - veapi: API calls must carry the vekey;
//   - Youzan: only registered grant ids exist (WithGrants, YouzanGrantID by default, and any that
//     NewCode authorized), and grant_id is a JSON string; the authorization page sends codes only
//     to the registered callback address (WithRedirectURIs, YouzanRedirectURI by default).
//
// The SDK's alternative encodings (vvtool.URLEncoded, vipauth.FormBody) are refused by strict
// emulators on purpose: the platforms are not confirmed to accept them, and a strict emulator that
// accepted them would let a client's departure from the documented format pass unnoticed. Lenient
// turns every one of these checks off, for code whose wire format cannot change; a test that
// passes only against a lenient emulator proves nothing about the real platform.
//
// # Concurrency
//
// Every emulator is safe for concurrent use; all its state is under one lock, so Stats are
// exact. Close shuts the server down; requests still waiting on latency or FaultSlow end at
// once, with the connection closed and nothing issued.
//
// # Browsers
//
// The authorize pages (vip.com's GET /oauth2/authorize, Youzan's GET /oauth/authorize) consent at
// once by default, so an http.Client that follows redirects goes through them. WithConsentPage
// shows a consent page instead, with 授权 / Authorize and 拒绝 / Deny buttons (ids "authorize"
// and "deny") that a headless browser clicks: the test then goes through a real form post and a
// real cross-site redirect, cookies and all. Authorize pages are neither token nor API endpoints:
// they are not counted and take no faults.
//
// # Faults
//
// FaultUnavailable, FaultHTML and FaultHTML200 answer before anything is issued.
// FaultTruncated, FaultWrongTypes and FaultDrop answer after the real work is done: the
// token IS issued and the old one killed, only the answer is damaged or lost, which is what
// makes a lost rotation dangerous. FaultSlow waits 10 seconds (or until the request's
// context ends, in which case nothing is issued). Injected faults are counted in
// Stats.Faults, not in Stats.Errors.
//
// # Youzan
//
// NewYouzan emulates POST /auth/token (Content-Type application/json only) with
// authorize_type "silent" (refresh as a JSON boolean or the strings "true"/"false"),
// "authorization_code" (codes from Youzan.NewCode, single use) and "refresh_token"
// (rotation), the gateway POST /api/{name}/{version}?access_token=... which echoes the
// request body, and a tool app's merchant authorization page GET /oauth/authorize (AuthorizeURL;
// see Youzan), which redirects to the registered callback with a code, or shows a consent page
// with WithConsentPage. A silent request with refresh:false returns the grant's current token while
// it is valid (counted in Stats.Reused); every issue kills the grant's previous pair. Strict,
// a grant id that was not registered is refused with 1103 "grant does not exist". The
// token is read from the query only. Token endpoint errors are the platform's
// {"success":false,"code":N,"message":"..."} with HTTP 200, gateway errors its
// {"gw_err_resp":{"trace_id","err_code","err_msg"}}. Codes used: 1000 (not JSON, wrong
// secret, bad parameter), 1004 (grant expired; refresh token expired, unknown or already
// rotated), 1005 (code invalid or used), 1103 with "client does not exist" or "grant does
// not exist"; gateway 4001, 4007, 4201 (no token, grant closed), 4202 (expired), 4203
// (unknown or superseded), and any code through FailAPIWith. The codes are real; the
// messages are the emulator's, and answering a dead refresh token with 1004 is a guess (the
// real answer is unknown). The documented one-hour grace that returns the same pair again
// is not emulated.
//
// # vv-tool
//
// NewVVTool emulates POST /oauth/token (a multipart form; lenient, also urlencoded or the
// query; grant_type client_credentials) answering {"access_token","expires_in","token_type":"Bearer","scope":""},
// and POST /api/proxy/oauth/token answering the same wrapped in {"code":0,"msg":"成功","data":...}.
// Every fetch kills the account's previous token; a token is bound to the fetching IP (see
// WithIPHeader) and used from another IP is invalidated for good. GET/POST
// /tool/members/info with Authorization: Bearer answers {"code":0,"msg":"成功","data":{"account","ip"}}
// or 身份凭证无效 in one of three styles (SetRejectStyle), because the real status and code
// are unverified. Invented: token errors are shaped like Laravel Passport's (which the
// endpoint resembles): HTTP 401 {"error":"invalid_client","error_description":"Client
// authentication failed","message":...} for wrong credentials, HTTP 400 with
// "unsupported_grant_type" or "invalid_request"; the wrapped endpoint answers HTTP 200
// {"code":400,"msg":"client_id或client_secret错误","data":null} (or "grant_type错误",
// "参数错误"); a strict refusal of a request the documentation does not show is invalid_request
// (参数错误) with a message saying what strict mode wants. The abuse rule (WithAbuseRule: a
// several-fold jump in a token's API calls cuts its validity short) is a model of the
// documented behaviour, not its real thresholds.
//
// # vip.com OAuth2
//
// NewVipAuth emulates GET /oauth2/authorize (the user always consents unless DenyNext, or, with
// WithConsentPage, shows a page whose Authorize and Deny buttons decide; 302
// to redirect_uri with code and state, or for urn:ietf:wg:oauth:2.0:oob an HTML page with
// <code id="code">CODE</code>; strict, only for a registered redirect_uri or OOB),
// POST /oauth2/token (parameters in the query; lenient, also a form; redirect_uri must equal
// the authorize one and, strict, be registered; request_client_ip is required; codes are
// single use) answering {"access_token","expires_in","open_id"}, POST /oauth2/token_info
// (dates as "2015-03-13 17:24:20" in China time; revoked: {"code":0,"msg":"token revoked"}),
// POST /oauth2/revoke_token ({"code":0,"msg":"success"}; invalid: {"code":30111,"msg":"access
// token invalid"}) and GET /api/account/info?access_token= answering {"code":0,"data":{"open_id"}}
// or 30111. Real: 30111 and the token-revoked answer. Invented, all HTTP 200
// {"code":N,"msg":"..."}: 30001 "invalid code" (unknown, used or expired code), 30002
// "invalid client", 30003 "redirect_uri mismatch" or "redirect_uri not registered", 30004
// "missing parameter: NAME", 30005 "unsupported grant_type"; expired and unknown tokens both
// answer 30111. Authorize errors (bad client, missing, unregistered or invalid redirect_uri,
// bad response_type) answer HTTP 400 with the same shape.
//
// # veapi
//
// NewVeapi emulates GET/POST /vip/refreshtoken?vekey=&refresh_token= answering exactly the
// platform's example shape ({"error":"0","msg":"接口调用成功!","data":{...},"request_id":"..."},
// error a string), with rotation: the used refresh token and the previous access token die
// at once (WithSameRefreshToken: the refresh token sent comes back and stays valid, as in the
// platform's example). Veapi.NewGrant starts a chain, Veapi.RotateElsewhere rotates it as another
// process would. GET/POST /vip/api?sessionkey=ACCESS&vekey=KEY stands for any API call (strict,
// without the vekey it is refused with 10001) and answers
// {"error":"0","msg":"ok","data":{"subject":...},"request_id":...}. Every error code is
// invented, because the platform's code table could not be retrieved; all are HTTP 200
// {"error":"N","msg":"...","request_id":"..."}: 10001 vekey错误, 10002 refresh_token不能为空,
// 10011 refresh_token不存在, 10012 refresh_token已失效 (rotated away or revoked), 10013
// refresh_token已过期,请重新授权, and on the API 10020 sessionkey无效, 10021 sessionkey已过期.
// The VeapiErr constants name them.
package shoptokentest
