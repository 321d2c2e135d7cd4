// Package veapi keeps Vipshop (唯品会) user authorizations alive through veapi.cn's renewal
// interface, /vip/refreshtoken, and calls veapi APIs with the access token.
//
// veapi hands out an access token (about 90 days) and a refresh token. Each renewal replaces the
// access token and may rotate the refresh token: then the refresh token sent dies and the answer
// carries the only copy of the next one. Lose that copy and the chain ends; only the merchant
// authorizing again starts a new one. Everything here is built around never losing it. (The
// platform's own example answer returns the very refresh token it was sent, so a renewal may also
// leave it unchanged. Both shapes are handled alike: the refresh token in the answer, new or the
// same, is saved and used next, and nothing depends on which one veapi sends.)
//
//	cfg := veapi.Config{VEKey: vekey, App: "acme"} // App: the account's public name
//	src, err := veapi.NewSource(cfg, shop,
//		shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted}),
//		shoptoken.WithStore(store)) // under "veapi/acme/<shop>"
//	tok, err := src.Token(ctx) // refreshed a week ahead, rotated token saved first
//
// # Many shops
//
// NewApp keeps the chains of every shop of one account: one Cache per shop, made on first use,
// under the Key shoptoken.Key{Platform: "veapi", App: Config.App, Shop: shop}, all sharing one
// Config, one HTTP client and the account's RejectedAgainWindow (see package shops for what an App
// does: store, due index, Keeper, events). A shop's chain starts from the refresh token its
// authorization gave, handed to App.Set; App.Client(shop) calls APIs for it:
//
//	app, err := veapi.NewApp(cfg, shops.WithStore(store)) // store: redisstore, shared by the fleet
//	err = app.Set(ctx, shop, &shoptoken.Token{RefreshToken: granted}) // after the merchant authorized
//	go app.Run(ctx)                                                   // the Keeper: idle chains stay alive
//	resp, err := app.Client(shop).Do(req)
//
// # Rotation and persistence
//
// NewSource returns a shoptoken.Cache; an App holds one per shop. With a Store, every rotated
// token is saved (compare-and-swap on the version) before any caller can see the new access token,
// and a Store that is also a Locker makes one process of a fleet refresh while the others load the
// result. Without a Store the rotated refresh token lives only in the process's memory: a restart
// loses the chain. Give a Store.
//
// WithToken starts the chain from the authorization you hold; a token already in the store wins,
// since it may be a later rotation. With neither, Token fails with shoptoken.ErrReauthorize ("no
// refresh token: authorize the shop first") and veapi is not called.
//
// # Defaults
//
// NewSource and NewApp refresh a week before the access token expires (DefaultEarlyRefresh, jittered by
// ±10 % so that shops authorized together do not refresh together) and, by the same rule, before
// refresh_expires_time; emits shoptoken.EventGrantExpiring five days before refresh_expires_time
// (DefaultGrantWarning); and lets at most one refresh per 15 seconds reach veapi for a key
// (DefaultMinInterval), because every refresh is a rotation that could be lost. Options passed to
// NewSource (shops.WithCacheOptions for NewApp) override each of these. Config.Logger and
// Config.Clock reach everything built from the Config: the renewal calls, every Cache and the
// Keeper.
//
// # Requests
//
// The seed documentation allows GET or POST. The refresh is sent as a POST with a form body
// (vekey, refresh_token), as the documentation's PHP sample does with CURLOPT_POSTFIELDS, so that
// neither secret appears in a URL, a proxy log or an error message; the shoptokentest emulator
// reads the form like the query. A POST is also never silently resent by net/http, and this
// package never repeats a refresh that may have reached veapi (only a failure to connect, when
// nothing was sent, is tried again): a repeated refresh would send a refresh token the first one
// may have rotated away.
//
// veapi serves plain HTTP only ("https 暂无"): the vekey and tokens cross the network unencrypted.
// Call it from a network you trust, or through a proxy you control.
//
// # Lost answers
//
// If veapi rotates the chain but its answer never arrives (connection dropped, timeout after the
// request was processed) or arrives damaged (truncated), the new refresh token exists nowhere but
// on veapi's side and the one we hold is dead. The call fails with ErrUnavailable (or
// ErrBadResponse); the Cache retries later, and that retry gets a dead-token answer, classified
// shoptoken.ErrReauthorize and reported as shoptoken.EventGrantLost. Nothing on the client can
// prevent this: the platform offers no idempotency key and no way to read the current token back.
// What this package does is narrow the window: one refresh per chain at a time across the fleet,
// no automatic resend, and a lenient reading of answers that did arrive (numbers as strings,
// booleans as strings), so that no rotated token is thrown away over a type.
//
// # Errors
//
// Every error is a *shoptoken.Error with Platform "veapi", the platform's code in Code, its msg
// in Message and its request_id in RequestID, each shown as one printable line of bounded length
// with known secrets shortened; the whole msg is in RawMessage. An answer is a success only when its error
// member is the string "0" (or, leniently, the number 0) and its data member is an object with a
// non-empty access_token and refresh_token; a missing error member, any other code, or a success
// without both tokens is an error. A success without a refresh_token is ErrBadResponse: the chain
// cannot continue from it.
//
// The platform's code table could not be retrieved, so codes are kept but not interpreted; the
// message decides, first rule first:
//
//	频繁, 限流, 次数, limit, too many                   ErrRateLimited
//	稍后, 繁忙, 系统错误, 系统异常, 超时, busy, timeout   ErrUnavailable
//	vekey, 秘钥, 密钥                                    ErrCredentials
//	a token or 授权 that is 失效/过期/不存在/无效/错误,
//	  or 重新授权, 未授权, 取消授权                        ErrReauthorize
//	key; 权限, 会员, 无权, 未开通                          ErrCredentials
//	不能为空, 缺少, 参数, missing                          ErrBadRequest
//	anything else                                       ErrUnavailable (429 and 5xx by status)
//
// An HTTP 401 from the renewal endpoint is ErrCredentials whatever its body: the only credential
// the app presents there is the vekey (with the refresh token), and a 401 is the server refusing
// the caller, not a verdict on the authorization chain.
//
// ErrReauthorize and ErrCredentials are permanent to the Cache: it reports them at once
// (EventGrantLost), stops planned refreshes for the token and, while the token is still valid,
// keeps serving it. A message that no rule recognises is treated as passing (ErrUnavailable), not
// as ErrBadResponse or a permanent kind. Wrongly permanent would stop planned refreshes and page a
// person for what may be a blip; wrongly passing costs one refresh attempt per backoff step (from
// 1 second doubling to 5 minutes, and never more than one per 15 seconds), each harmless because a
// refresh veapi refused did not rotate anything, while the valid token keeps being served and
// every failure is logged with veapi's code and message. The planned refresh starts a week early,
// so there is time to notice.
//
// # Unverified
//
// These could not be confirmed and nothing depends on them being true: the error codes and
// messages (above); whether a renewal rotates the refresh token (its documentation says the answer's
// refresh_token is "for the next refresh", its example answer repeats the one sent: see above); whether a refresh extends refresh_expires_time (the example answer suggests it
// does not; if it does not, the Cache refreshes again closer and closer to the grant's end, and
// EventGrantExpiring may be emitted again after each of those rotations: deduplicate alerts by the
// token's RefreshExpiry); the types of the answer's members beyond the documented example (read
// leniently); and timestamps. An expiry or grant end is believed only when it lies after the
// answer and at most ten years ahead by the local clock (which also keeps every time inside years
// 1 to 9999, so the token can always be stored): expiry then comes from expires_time, else
// create_at plus expires_in, else the local clock plus expires_in, else the documented 90 days
// (DefaultTokenLifetime), never a reason to drop the answer that carries the next refresh token;
// an unusable refresh_expires_time is left unknown, so that a bad timestamp cannot make the Cache
// rotate the chain in a loop; a create_at more than a day ahead of the local clock or more than
// ten years behind it is not taken as the issue time.
//
// # API calls
//
// NewClient(cfg, src) and App.Client(shop) return a *Client (Do, or HTTPClient for a library that
// takes an *http.Client) that adds the access token as the sessionkey query parameter and the
// vekey as vekey, both on the copy of the request that is sent (never on the caller's request or
// in an error), and, when veapi answers that the sessionkey is invalid or expired, has the Cache
// refresh once (however many calls saw the rejection) and resends the request once. src may be
// any shoptoken.TokenSource; one that cannot be invalidated (shoptoken.StaticSource) gets the
// refusal back. When the token that refresh issued is refused too, the API refuses for another
// reason: for RejectedAgainWindow the client hands back that refusal instead of rotating the
// chain again. The Clients of an App share that window per shop, however many are made.
//
// # Concurrency
//
// Config is a value and safe to share. The Cache from NewSource, an App and a Client are safe for
// concurrent use; across processes, give every process the same Store and the same Config.App.
package veapi
