// Command veapi shows a veapi.cn authorization chain being kept alive: every refresh rotates the
// refresh token, each rotation is saved before it is used, and a restarted process continues the
// chain from the store.
//
// Offline (the default) it runs against the shoptokentest emulator with one-second tokens, so a
// few rotations happen in about two seconds.
//
// Against the real platform, set:
//
//	VEAPI_VEKEY          your veapi interface key (接口秘钥)
//	VEAPI_STORE_DIR      a directory (mode 0700) where the rotated token is saved; required,
//	                     because after the refresh the refresh token you started from is dead
//	VEAPI_REFRESH_TOKEN  the refresh token of the authorization, for the first run; later runs
//	                     continue from the store and do not need it
//	VEAPI_SHOP           optional name of the shop, used in the store key (default "default")
//	VEAPI_APP            optional public name of your veapi account, used in the store key
//	                     (default "example"): the token is saved under veapi/<app>/<shop>
//	VEAPI_BASE_URL       optional, default http://api.veapi.cn
//
// The real mode refreshes only when the stored token needs it.
package main
