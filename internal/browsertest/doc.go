// Package browsertest holds the test that drives a real browser, headless Chromium, through
// merchant re-authorization (package reauth): the link, the emulator's consent page (a click on
// "authorize" or "deny"), the callback and the page the merchant sees, then the stored token
// checked through the store. It is a module of its own so that chromedp, which drives Chromium
// over the DevTools protocol, never enters the SDK's go.mod.
//
// The test looks for Chromium in $SHOPTOKEN_CHROMIUM, then chromium, chromium-browser,
// google-chrome and google-chrome-stable on the PATH. Without one it skips, loudly; with
// SHOPTOKEN_REQUIRE_BROWSER=1 (as .ci/run sets once Debian's chromium package is installed) a
// missing browser fails the test instead.
package browsertest
