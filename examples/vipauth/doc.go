// Command vipauth shows the vip.com OAuth2 authorization of a web application: /login sends the
// browser to vip.com with a state cookie, /callback checks the state, exchanges the code,
// installs the token in a vipauth.App (one token per user, keyed by open_id) and shows the
// user's open_id.
//
// With no environment set it runs offline against the shoptokentest emulator and drives itself:
// it starts the server on 127.0.0.1, follows /login with an HTTP client (the emulator's user
// consents at once and redirects back to /callback), then asks vip.com about the token, calls an
// API with it, revokes it, and shows that the next call reports that the user must authorize
// again. It exits 0 when all of that went as expected.
//
// Against the real vip.com, set
//
//	VIP_CLIENT_ID      the application's client_id
//	VIP_CLIENT_SECRET  the application's client_secret
//	VIP_REDIRECT_URL   the registered callback, e.g. http://localhost:8080/callback, or
//	                   urn:ietf:wg:oauth:2.0:oob to paste the code shown by vip.com
//	VIP_LISTEN         optional listen address (default: the callback's host:port, else :8080)
//	VIP_CLIENT_IP      optional, oob flow only: the user's IP sent as request_client_ip
//	                   (default 127.0.0.1, the platform's example value)
//
// It then serves until Ctrl-C and prints the URL to open.
package main
