// Package restyauth lets a resty v2 client call platform APIs with shoptoken's tokens: each request
// gets a token from a token source, attached as the platform wants it, and a request whose token
// the platform rejects is sent once more with a new one.
//
//	src, err := youzan.NewSource(cfg, "88888") // or any platform's source
//	policy, err := youzan.APIPolicy(cfg)        // where the token goes, what a rejection is
//	client := resty.New()
//	err = restyauth.Use(client, src, policy)
//	resp, err := client.R().SetBody(params).Post(gateway + "/api/youzan.trade.get/4.0.2")
//
// # Rejections
//
// When the answer is a rejection by the platform's own rule (the Policy's Rejected: vvtool.Rejected,
// vipauth.Rejected, Youzan's 4201-4203 in any envelope, veapi's invalid sessionkey), the source is
// told which token the request was sent with (shoptoken.Invalidator.Invalidate, compare-and-refresh:
// any number of requests rejected at once cause one refresh) and the request is sent once more with
// the new token, its body replayed. The answer to that second send is returned whatever it is: a
// second rejection comes back as the answer, and is not retried. If the refresh fails (say
// shoptoken.ErrReauthorize: the merchant must authorize again), its error is returned instead of
// the rejection. A request whose body cannot be replayed is not sent again: resty buffers the
// bodies it builds and sets GetBody, so only a body a PreRequestHook puts there without GetBody is
// affected; its rejection is returned, and the next request gets the new token.
//
// resty's own retries (SetRetryCount) are left as they are, but all the attempts of one request
// share one invalidation: a retry condition that matches a rejection never makes the request
// refresh twice.
//
// # Where the token goes
//
// The token, and any Secrets of the Policy (veapi's vekey), are put on the copy of the request that
// the transport sends, after resty has built it, passed it to its middlewares, logged it (SetDebug,
// EnableGenerateCurlOnDebug) and handed it to net/http. The caller's resty.Request, its
// RawRequest, Response.Request, resty's debug log and its curl command never carry them; errors
// show them shortened (their first four characters, "…" and their length). Set neither the token
// nor a Policy secret on the request yourself: resty would log it.
//
// # Many shops
//
// One client serves every shop of an App: UseShops takes the App's Source method, and each
// request names its shop on its context (WithShop). The shop is on the request rather than on
// the client because a resty client is meant to be made once: its connection pool, settings and
// logger are shared by every request, and resty's Clone shares the underlying http.Client, so a
// client per shop would be neither cheap nor separate. A request with no shop fails before it is
// sent. A request middleware of your own that replaces a request's context must derive the new
// one from Request.Context, which carries the shop and the request's invalidation budget.
//
// # Concurrency
//
// Use and UseShops change the client: call them before it sends anything. After that the client is
// as safe for concurrent use as resty makes it.
package restyauth
