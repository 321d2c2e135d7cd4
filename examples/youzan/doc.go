// Command youzan shows a Youzan API call that survives its token being superseded by another
// process (gateway error 4203), with one token call and one retry, then one App serving three
// shops on one store, each token under the key the SDK builds ("youzan/<client_id>/<kdt_id>").
//
// By default it runs offline against the shoptokentest emulator. With YOUZAN_CLIENT_ID,
// YOUZAN_CLIENT_SECRET and YOUZAN_GRANT_ID (the shop's kdt_id) set, it obtains a real token by
// silent authorization (refresh:false, which never disturbs other processes) and calls the
// harmless read API youzan.shop.get 3.0.0, printing only non-secret fields. It does not supersede
// a real token: that would break every other process using the shop's token.
package main
