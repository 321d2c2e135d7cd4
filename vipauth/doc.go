// Package vipauth obtains vip.com (唯品会) user access tokens through OAuth2 authorization
// (auth.vip.com), serves them to API calls until they lapse, and says early and clearly when the
// user must authorize again.
//
// vip.com issues no refresh token: a token lives 30 days, and ends sooner when the user cancels
// the grant, changes the password, or the account is frozen. So the whole life of a grant is
//
//	app, err := vipauth.NewApp(cfg, shops.WithStore(store))  // once: every user of the application
//	state := vipauth.NewState()                              // keep it in a cookie
//	authURL, err := cfg.AuthCodeURL(state)                  // refuses a redirect_uri that is no web address
//	http.Redirect(w, r, authURL, http.StatusFound)
//	// ... the user logs in and consents; vip.com redirects to cfg.RedirectURL:
//	code, err := vipauth.ParseCallback(r.URL.Query(), cookie.Value) // if err != nil: stop (CSRF, refusal)
//	tok, err := cfg.Exchange(ctx, code, clientIP)            // tok.Subject is the user's open_id
//	err = app.Set(ctx, tok.Subject, tok)                     // saved under "vipauth/<ClientID>/<open_id>"
//	resp, err := app.Client(tok.Subject).Do(req)             // ?access_token= on every request
//
// and, when a call reports shoptoken.ErrReauthorize (or earlier: shoptoken.EventGrantExpiring,
// or the App's Keeper calling shops.WithOnReauthorize three days ahead), the same again, ending
// with app.Set(ctx, openID, newToken). NewSource(cfg, openID, ...) is the same for one user.
//
// # Many users
//
// An App (NewApp) holds one Cache per user, made on first use, under the Key
// shoptoken.Key{Platform: "vipauth", App: Config.ClientID, Shop: open_id}, with the store, due
// index and events applied by the App (see package shops). Its Keeper (Run, Sweep) renews nothing,
// since nothing can be renewed: it reports each user whose token lapses within
// DefaultGrantWarning, once, to shops.WithOnReauthorize and as shoptoken.EventGrantExpiring, with
// the same Key. App.Set refuses a token whose Subject is another user's.
//
// # Native applications
//
// With RedirectURL set to OOB ("urn:ietf:wg:oauth:2.0:oob"), vip.com shows the code on its page
// instead of redirecting; the user copies it into the application, which calls Exchange. There
// is no redirect, so no state to check. Mobile() asks for the mobile pages (display=mobile).
//
// # Where the parameters go
//
// vip.com documents token, token_info and revoke_token as POST and, in every example, puts every
// parameter (client_secret and code included) in the query string of that POST. Exchange,
// TokenInfo and Revoke do the same by default (Config.Encoding Query), because that is the only
// placement the documentation shows and this package does not depend on what nobody confirmed.
// The cost is that the secret, the code and the token sit in a URL: vip.com's access logs and any
// proxy on the way see them. Config.Encoding = FormBody sends them in an
// application/x-www-form-urlencoded body instead, as OAuth 2.0 prescribes (RFC 6749 section
// 4.1.3); a Java server of the usual kind reads both, but that vip.com does is not confirmed. If
// it did not, Exchange would fail with the platform's error (most likely a missing parameter),
// and the code would be spent.
//
// # Secrets
//
// The client secret, codes and tokens never appear in errors, logs or fmt output, also when they
// travel in the query string: URLs are redacted before they reach an error or a log record, and
// TokenInfo and shoptoken.Token print them as a short prefix.
//
// # Concurrency
//
// Config is a value; its methods are safe for concurrent use. The Cache from NewSource, an App and
// a Client are safe for concurrent use; a Cache makes no platform call at all: concurrent callers
// that meet an expired or rejected token share one ErrReauthorize. Across processes, give every
// process the same Store, so a token one process Sets after a new authorization is seen by all.
// Config.Logger and Config.Clock reach everything built from the Config: Exchange's issue time,
// every Cache and the Keeper.
//
// # Errors
//
// Every error is a *shoptoken.Error with Platform "vipauth", Op "authorize", "callback",
// "exchange", "token_info", "revoke", "refresh", "source", "new_app", "new_client", "set" or
// "shop", the platform's code and message
// (less any secret they echo, each one printable line of bounded length; the whole message is in
// RawMessage), and a Kind:
//
//   - shoptoken.ErrReauthorize: the user refused (ParseCallback, Err ErrDenied), the code is
//     invalid or used (Exchange), the token was revoked (TokenInfo), or the Cache's token expired
//     or was rejected (NewSource, NewApp, Client). A person must authorize again.
//   - shoptoken.ErrTokenInvalid: 30111 "access token invalid" (TokenInfo, Revoke).
//   - shoptoken.ErrCredentials: the client ID or secret was rejected (also any HTTP 401 from the
//     token endpoint, whatever its body: at that endpoint a 401 is about the app), or is missing.
//   - shoptoken.ErrBadRequest: a missing argument, a mismatched state (Err ErrStateMismatch), a
//     redirect_uri the platform refused.
//   - shoptoken.ErrUnavailable: network failure, timeout, 5xx, a "system busy" message
//     (shoptoken.ErrRateLimited when the message says "too frequent").
//   - shoptoken.ErrBadResponse: an answer that could not be understood (HTML, truncated JSON,
//     an access_token that is not a string, a date that is not a date).
//
// # What is not confirmed, and how the code copes
//
// Documented by vip.com and relied on: the endpoints and their parameters, the token answer
// {"access_token","expires_in","open_id"}, token_info's date strings in China time, its revoked
// answer {"code":0,"msg":"token revoked"} (code 0 is not a success there), revoke_token's
// {"code":0,"msg":"success"} and 30111 "access token invalid", the 30-day lifetime.
//
// Not confirmed [unverified], so never depended on:
//   - That the real endpoints read parameters from a form body (the FormBody option; the
//     default follows the documentation's query string). If one did not, it would answer with an
//     error, reported with the platform's code and message verbatim.
//   - What vip.com does with request_client_ip. Exchange sends the address given, which must
//     parse as an IP ("ip:port" is accepted, the port dropped).
//   - vip.com's error code table. Only 30111 and the revoked answer are classified by code; other
//     answers are classified by an RFC 6749 error name if there is one, else by words in the
//     message ("client", "secret", "code", "redirect", "missing", in English or Chinese), else
//     conservatively: ErrReauthorize for Exchange (the code is spent either way), ErrBadRequest
//     for TokenInfo and Revoke. The code and message are always kept for the operator.
//   - The value of error on a refused authorization: any value that is not a standard OAuth2
//     code for something else counts as a refusal.
//   - That vip.com echoes state on the redirect, as OAuth2 requires. ParseCallback insists on
//     it, because a lenient check is no CSRF protection.
//   - How API answers reject a token. Rejected treats HTTP 401, code 30111 and msg "token
//     revoked" as a rejection.
//   - The units of expires_in in token_info (the example shows the whole lifetime);
//     TokenInfo.ExpiresAt is the deadline to use.
//   - The types of the answer's members. Only access_token must be a string: open_id (the
//     token's Subject), token_type, code, msg and the other members that only inform are read
//     whatever their JSON type (a number as its digits), because the code that bought the token
//     is spent and a token is never thrown away over a cosmetic field.
//   - expires_in. A quoted number is accepted. A lifetime is believed when it is positive and at
//     most ten years; when it is missing, unreadable or outside that range the token is given the
//     documented 30 days (DefaultTokenLifetime, with a warning in the log), so its expiry always
//     lies inside years 1 to 9999 and it can be stored. The first rejection corrects a wrong
//     guess (ErrReauthorize, which a person must act on either way).
package vipauth
