// Package xoauth2 connects shoptoken and golang.org/x/oauth2, both ways.
//
// It is a module of its own (github.com/shoptoken/shoptoken/xoauth2), so that a program that does
// not import it never has x/oauth2 in its module graph, and its go.mod keeps go 1.24. It requires
// x/oauth2 v0.30.0, the newest release that does not declare go 1.24.0 or later (v0.31.0 to v0.35.0
// declare 1.24.0, which go mod tidy would write into your go.mod; v0.36.0 needs 1.25, v0.37.0
// 1.26). The parts it relies on (token retrieval, RetrieveError, Token) are the same in every
// release from v0.30.0 to v0.38.0, and its tests pass with v0.38.0; any newer x/oauth2 your
// program requires is used instead.
//
// # A shoptoken source as an oauth2.TokenSource
//
// NewTokenSource hands a Cache, an App's Source(shop) or a StaticSource to a library that takes an
// oauth2.TokenSource:
//
//	cache, err := youzan.NewSource(cfg, kdtID, shoptoken.WithStore(store))
//	hc := oauth2.NewClient(ctx, xoauth2.NewTokenSource(cache))
//
// For your own HTTP calls, shoptoken.NewClient does more: it also tells the Cache when the
// platform rejects a token and retries once. oauth2.NewClient puts an oauth2.ReuseTokenSource (a
// mutex and a clock read per request) in front of the source, which a Cache does not need, and
// which never asks again for a token without an Expiry; &oauth2.Transport{Source: ts, Base: ...}
// leaves it out.
//
// oauth2.TokenSource.Token has no context: NewTokenSource asks the source with
// context.Background() (a Cache bounds the wait by its own refresh timeouts), and
// ContextTokenSource with a context you give, for its deadline, cancellation and values. The
// token's Expiry is moved earlier by the Cache's expiry skew, and its refresh token is withheld
// unless WithRefreshToken is given (a library that redeemed it would kill a rotating grant for the
// whole fleet).
//
// # An oauth2.Config and a refresh token as a shoptoken.Refresher
//
// Platforms that renew grants with the standard refresh-token grant get from the engine what
// x/oauth2 never had: the refresh ahead of expiry, one refresh
// per grant across a fleet (a Store that is a Locker: redisstore, sqlstore, the MemoryStore in
// one process), and the rotated refresh token saved to the Store before the new access token is
// used, so that a crash or a second process never loses or reuses it:
//
//	cache, err := xoauth2.NewSource(xoauth2.Config{
//		Platform: "acme",
//		OAuth2: &oauth2.Config{
//			ClientID:     clientID,
//			ClientSecret: clientSecret,
//			Endpoint: oauth2.Endpoint{
//				TokenURL:  tokenURL,
//				AuthStyle: oauth2.AuthStyleInParams,
//			},
//		},
//		SubjectField: "open_id",
//	}, shopID,
//		shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted}),
//		shoptoken.WithStore(store))
//
// NewRefresher is the Refresher alone, for shoptoken.NewCache; NewApp is the many-grants App. Each
// refresh sends the current refresh token once: never again after a failure, never to a
// redirect's Location, never a second way (so Endpoint.AuthStyle must be set: x/oauth2's
// auto-detection resends a refused request). An answer without a new refresh token keeps the old
// one.
//
// The HTTP client is Config.HTTPClient; if nil, the one the refresh's context carries under
// oauth2.HTTPClient (x/oauth2's convention; a Cache's refresh runs on the values of the context of
// the caller that started it, a planned refresh on none, so prefer Config.HTTPClient); if none,
// a client shared by the process with the SDK's timeouts, never http.DefaultClient.
//
// The platform must speak RFC 6749 on the wire: the refresh request as section 6 says (client_id,
// client_secret, grant_type, refresh_token), the answer as section 5 says, in JSON or a form, at
// the top level of the body. Several Chinese platforms that use refresh-token grants depart from
// it (going by their public documentation, not verified here: JD and Kuaishou name the client
// app_key or app_id, Douyin wraps its answer in a data object); such a platform needs a Refresher
// of its own (shoptoken.RefresherFunc), and gets the same engine.
//
// # Errors
//
// A failed refresh is a *shoptoken.Error with the platform's error code in Code, its
// error_description in Message, the HTTP status and the request id header, and a Kind:
//
//	invalid_grant, access_denied                       ErrReauthorize (the grant is gone)
//	invalid_client, unauthorized_client, HTTP 401      ErrCredentials
//	invalid_request, unsupported_grant_type,
//	invalid_scope, other 4xx                           ErrBadRequest
//	server_error, temporarily_unavailable, 5xx, 408,
//	network failure, timeout                           ErrUnavailable
//	slow_down, HTTP 429                                ErrRateLimited
//	HTTP 403                                           ErrPermission
//	a redirect, an unreadable answer, no access_token  ErrBadResponse
//
// The *oauth2.RetrieveError is not wrapped: its text and Body show the answer as it came, which
// may echo the refresh token or carry new tokens. No error text holds the client secret, the
// refresh token sent, or a member of the answer named like a secret.
//
// # Concurrency
//
// A Refresher, and the result of NewTokenSource and ContextTokenSource, are safe for concurrent
// use.
package xoauth2
