// Package youzan obtains and refreshes Youzan cloud (有赞云) access tokens and calls Youzan APIs
// with them.
//
// One Config describes the app (client_id, client_secret, and how to reach Youzan); the shop, a
// kdt_id, is a parameter. Every shop's token is named by the Key {"youzan", ClientID, kdt_id},
// stored as "youzan/<client_id>/<kdt_id>": every process and service that serves the shop finds
// the same token.
//
// An app with many shops (self-use, 自用型, silent authorization) is an App: one per process, with
// a shared Store, and a Keeper (Run) that refreshes the grants nobody is using:
//
//	app, err := youzan.NewApp(youzan.Config{ClientID: id, ClientSecret: secret, Logger: logger},
//		shops.WithStore(redisstore.New(rdb)))
//	...
//	go app.Run(ctx)          // keeps idle shops' tokens fresh, this app's shops only
//	defer app.Shutdown(ctx)
//	var trade struct{ Tid string `json:"tid"` }
//	err = app.Call(ctx, kdtID, "youzan.trade.get", "4.0.2", map[string]string{"tid": tid}, &trade)
//
// App.Client(kdtID) returns a Client for one shop (Call, Do, HTTPClient) that shares the App's
// HTTP clients and 4101 back-off; it is cheap enough to make per request. One shop alone is
// NewSource(cfg, kdtID) and NewClient(cfg, src).
//
// Tool apps (工具型) authorize through the merchant's browser: AuthCodeURL is the page that sends a
// merchant back with a code and your state, ExchangeCode turns the code into a token whose refresh
// token NewToolApp (or NewToolSource for one shop) then rotates. Package reauth is that flow as an
// http.Handler, with signed single-use links per shop.
//
// # Silent authorization and refresh:true
//
// POST /auth/token with refresh:false returns the shop's current token while it is valid and issues
// one only when there is none [public], so every process may call it. refresh:true always issues a
// new token and the previous one dies at once (gateway 4203) everywhere. The refresher behind
// NewSource and NewApp therefore asks refresh:false on a cold start, for an expired token and after
// a rejection, and refresh:true only for the planned refresh a day before expiry, which the Cache
// runs once per key, under the fleet lease when its Store is a Locker.
//
// After a rejection, refresh:false may hand back the very token the gateway just refused (for a
// while the token endpoint and the gateway can disagree: a 4202 at the expiry instant, a 4203 or
// 4201 forced by the platform), and for a token the Cache counts as expired (it allows a 10 s
// skew) the platform may still call it valid. Returning it would make every caller fail again
// until it lapses, so in that case the refresher calls once more with refresh:true. That kills
// the token for other processes too, which costs nothing: the gateway refuses it anyway, or it
// is seconds from expiry. If the token that refresh:true produced is refused as well, something
// else is wrong (a proxy that moves the token out of the query, say); the refresher then does not
// force again and sticks to refresh:false, so a persistent fault never becomes a storm of
// destructive fetches. Call then reports the rejection (ErrTokenInvalid). The token carries the
// mark of a forced refresh in Token.Extra[ExtraForced], and so through the Store to every process
// of the fleet: the fleet forces refresh:true at most once per token, not once per process. (A
// token obtained that way is not forced again for the rest of its life; the planned refresh a day
// before expiry still replaces it.)
//
// # Tool apps and the rotating refresh token
//
// A refresh token lives 28 days [seed] and redeeming it kills it at once [seed]; a lost answer, or
// a process that does not save the new pair, ends the chain until the merchant authorizes again. A
// tool app's Cache (NewToolApp, NewToolSource) saves every new pair to its Store before anyone uses
// it and re-reads the Store before declaring the grant dead; give all processes the same Store.
// RefreshExpiry is set to 28 days after the estimated issue time (the answer has no date) so the
// Cache refreshes in time. The request fields (code, redirect_uri, refresh_token) are those of
// Youzan's official PHP and Node SDKs [public]; those SDKs also send "scope":"scope", a placeholder
// this package omits.
//
// # Calling APIs
//
// Call (App.Call, Client.Call) posts a JSON body to /api/{name}/{version} with the token in the access_token
// query parameter, the only place the gateway reads it [public]. It understands every envelope
// the gateway uses: {"gw_err_resp":{...}} gateway errors, {"success","code","data","message",
// "trace_id"} answers and the legacy {"response":{...}} / {"error_response":{...}}. The trace_id
// becomes Error.RequestID. Client.Do and Client.HTTPClient send any request with the token in
// its query (on a copy of the request) and recognise a rejection in the same envelopes, for the
// APIs Call does not fit; they return the answer as it is.
//
// A client built on a source that can be told of a rejection (a Cache, an App's Source) reports a
// rejected token and retries once with the new one; on any other source (shoptoken.StaticSource)
// the rejection is returned.
//
// # Rate limits (4101)
//
// The gateway asks a caller it refuses with 4101 to back off 3, 6, 12, 24 and then 48 s. Call
// does not sleep: RetryAfter reads the advice from the error. The sequence is kept per shop and
// API in state the App shares with every Client from App.Client, however often those are made; a
// Client from NewClient keeps its own.
//
// # Concurrency and cost
//
// Config is a value. An App, the Caches from NewSource and NewToolSource, and Client are safe for
// concurrent use. When many calls see the same rejected token at once, the Cache's
// compare-and-refresh makes one token call for all of them. Across processes, give every process
// the same Store (redisstore, filestore): the keys are the same by construction.
//
// The shops of an App share its Config, its two HTTP clients and its back-off; a shop costs its
// Cache, its token and a two-word Refresher (under 1 KiB of heap in all, measured with 100 000
// shops).
//
// # Errors
//
// Every error this package makes is a *shoptoken.Error with Platform "youzan", Op "token"
// (silent), "exchange", "refresh" (refresh_token grant) or "call", the platform's code and
// message (any known secret in it shortened; one printable line of bounded length, the whole
// message in RawMessage), the trace_id as RequestID whenever it can be read from the answer, and
// a Kind.
// Errors of the Cache itself, which Call passes on (a wait given up, the minimum interval between
// token calls), are *shoptoken.Error with an empty Platform. A Config that lacks a field, a
// shop id that is not a kdt_id (decimal digits) and bad arguments to Call are ErrBadRequest,
// before anything is sent. The Kinds:
//
//	token 1000 (secret wrong), 1105 (wrong app type)          ErrCredentials
//	token 1004 (authorization expired), 1005 (code invalid)   ErrReauthorize
//	token 1103 "client does not exist" / "app mismatch"       ErrCredentials
//	token 1103 "grant does not exist", or any other wording   ErrReauthorize
//	token HTTP 401, whatever the body                         ErrCredentials
//	token success without an access_token, HTML, truncated    ErrBadResponse
//	gateway 4001, 4005, 4007, 5002, business failures         ErrBadRequest
//	gateway 4007 mentioning the IP allowlist, 4204            ErrPermission
//	gateway 4101                                              ErrRateLimited, RetryAfter gives 3-48 s
//	gateway 4201, 4202, 4203 after the one retry              ErrTokenInvalid (4201: ErrReauthorize)
//	gateway 5001, 5003, network failures, 5xx                 ErrUnavailable
//
// 1103 is told apart by its message, in Chinese or English. When the wording is not recognised it
// is taken as the grant's problem: both kinds are permanent (the Cache stops calling), and asking
// the merchant to authorize again is the cheaper mistake for an app whose credentials work for
// other shops. Unknown token codes are ErrRateLimited when the message says so, ErrUnavailable
// for system errors, and ErrBadResponse otherwise, which the Cache retries with backoff.
//
// Secrets (client secret, access and refresh tokens, codes) never appear in errors, logs or
// fmt output; Config prints its secret redacted too.
//
// # What is unverified and how the code copes
//
//   - "Retrying within an hour returns the same pair" is in the seed but [unverified] for
//     Youzan: nothing here depends on it. A lost refresh_token answer may end the chain.
//   - The real answer to a dead refresh token is unknown; 1004, 1005, 1103 (grant) and a
//     message naming the refresh token are all read as ErrReauthorize, and the Cache re-reads
//     the Store before it believes that.
//   - The 1103 wordings and the 4007 IP wording are matched loosely (see above).
//   - Scalar types are read tolerantly (numbers as strings and back), because the gateway's
//     types are loosely documented; objects where a scalar belongs are ErrBadResponse.
//   - expires is read as milliseconds [seed]; a value too small for that is read as seconds.
//     An expiry is believed only if it lies after the answer and at most ten years ahead: a
//     missing, unreadable or implausible one (past year 9999, say, which no Store could write)
//     is replaced by the documented 7 days, with a warning in the log, and never costs the
//     answer its token. A token that the answer says is already expired is ErrBadResponse,
//     except on an answer that carries a new refresh token (refresh_token grant, code
//     exchange): the old one is spent, so the 7 days are assumed rather than lose the chain.
//   - The 4101 back-off sequence is the platform's advice [public]; Call does not sleep, it
//     returns the advice (RetryAfter) and the caller decides. What exactly the gateway counts
//     (per app, shop or API) is not documented; the advice is kept per shop and API, so that one
//     shop's burst never makes the advice for another shop grow.
package youzan
