// Command vvtool shows how package vvtool keeps a fleet from killing its own vv-tool tokens.
//
// Offline (the default) it runs against the shoptokentest emulator: two workers share one store
// and make calls without a token storm (one fetch), another server's fetch kills the token and the
// workers recover with one fetch, and calls that leave from another IP than the fetch stop with an
// explanation instead of fetching token after token.
//
//	go run ./examples/vvtool
//
// Against the real platform it fetches a token and calls /tool/members/info once:
//
//	VVTOOL_ACCOUNT=... VVTOOL_ACCESS_KEY=... VVTOOL_I_UNDERSTAND=1 go run ./examples/vvtool
//
// That fetch kills the token every other server using the Account holds, so it runs only with
// VVTOOL_I_UNDERSTAND=1. VVTOOL_TOKEN_URL and VVTOOL_API_URL override the endpoints.
package main
