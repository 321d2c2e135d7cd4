// Package reauth gets a merchant to authorize an app again, in the browser: an http.Handler an ISV
// mounts in its own web app, and per-shop links to send merchants. It serves vip.com
// applications (VipAuth) and Youzan tool apps (YouzanTool), and any platform with an OAuth
// 2.0-like code flow through Authorizer.
//
//	h, err := reauth.New(reauth.Config{
//		BaseURL:    "https://isv.example.com/reauth", // register BaseURL+"/callback" with the platform
//		SigningKey: key,                              // 32+ random bytes, the same fleet-wide
//		Store:      store,                            // the App's: a link works once, fleet-wide
//		OnAuthorized: func(k shoptoken.Key, _ *shoptoken.Token) { metrics.Reauthorized(k.Platform) },
//	}, reauth.YouzanTool(yzCfg, yzApp), reauth.VipAuth(vipCfg, vipApp))
//	mux.Handle("/reauth/", h)
//	link, err := h.Link(yzApp.Key(kdtID), 72*time.Hour) // send it to the merchant
//
// # The flow
//
// A link (Handler.Link) is BaseURL+"/start?link=..." carrying the shop's shoptoken.Key (platform,
// app and shop), an expiry and a random id, signed with Config.SigningKey (HMAC-SHA256). Opening
// it checks the signature (in constant time), the expiry, that this Handler serves the Key's app
// and that the link has not authorized yet; it then sets a flow cookie (HttpOnly, SameSite=Lax,
// Secure on https, limited to BaseURL's path, Config.FlowTTL long) holding a digest of a fresh
// random state, signed with the link it came from, and redirects the browser to the platform's
// authorization page with that state (vipauth.Config.AuthCodeURL, youzan.Config.AuthCodeURL).
// Opening a link writes nothing, so a link preview cannot spend it.
//
// The platform sends the browser back to BaseURL+"/callback" with a code (or error=access_denied)
// and the state. The callback requires the flow cookie of this browser whose digest matches the
// state (compared in constant time), so a forged callback fails (cross-site request forgery);
// then it marks the state used in the Store, so an answer is handled once (a double submit, a
// reload or a replay stops there, before the code goes anywhere); then it marks the link used,
// exchanges the code (vipauth Exchange, youzan ExchangeCode), checks that the token is for the
// link's shop (its Subject), and installs it with the App's Set, which saves it to the store
// first: every process of the fleet serves it at once. A failure after the link was marked gives
// the link back, so the merchant may try again with the same link until it expires.
//
// # Pages
//
// Every outcome is a plain page in Chinese and English (html/template, no script, no external
// asset, served with Cache-Control no-store, Referrer-Policy no-referrer and a Content Security
// Policy that allows only its inline style). The status codes:
//
//	200 authorized                      the token is saved
//	400 link-invalid                    ErrLinkInvalid: malformed, altered or another key's
//	410 link-expired, flow-expired      ErrLinkExpired, ErrFlowExpired
//	409 link-used, already-handled      ErrLinkUsed, ErrStateUsed: a replay or a double submit
//	404 unknown-app                     ErrUnknownApp: a link for another platform or app
//	403 state-mismatch                  ErrStateMismatch: no or another flow cookie (CSRF)
//	403 denied                          ErrDenied: the merchant pressed "deny"
//	403 other-shop                      ErrOtherShop: the merchant authorized another shop
//	502 platform-error                  the platform refused the code or failed
//	503 unavailable                     the Store or the App's save failed
//
// The reason is the page body's data-reason attribute, for monitoring and tests. None of these
// failures changes a stored token. Config.OnFailed hears of each, Config.OnAuthorized of each
// success, and Config.Logger gets a record of each.
//
// # Single use across a fleet
//
// The markers of used links and handled answers are kept in Config.Store: give every process the
// Store the Apps share (redisstore, sqlstore, filestore), and a link works once across all of
// them, whichever process the browser reaches. Each marker is a small record (about 200 bytes)
// that is never removed; there is one per callback handled. Without a Store the markers live in
// the process's memory: a single process only.
//
// # Secrets
//
// The signing key, codes, states and tokens never appear in a page, an error, a log record or a
// store key (markers are named by digests). The code goes from the callback's query to the
// platform's token endpoint only. A link is not a secret of that kind, but it starts an
// authorization of its shop: send it to the merchant only, and keep its ttl short.
//
// # Another shop
//
// A link names the shop; the platform decides which shop the merchant actually authorized (they
// may be signed in to another account). When the token's Subject is not the link's shop, nothing
// is stored (ErrOtherShop). On Youzan, the exchange may already have ended that other shop's
// previous token pair (whether a code exchange does so is not documented); that shop's Keeper
// then reports it for re-authorization, as for any lost grant.
//
// # Concurrency
//
// A Handler is safe for concurrent use; two callbacks with the same state (a double click) race
// for the Store's compare-and-swap, and exactly one proceeds.
package reauth
