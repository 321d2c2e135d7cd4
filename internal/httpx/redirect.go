package httpx

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// maxSameOriginRedirects is how many same-origin redirects in a row are followed when
// Config.FollowSameOrigin allows them and HTTPClient.CheckRedirect does not decide: net/http's own
// limit.
const maxSameOriginRedirects = 10

// redirectPolicy returns the CheckRedirect of every Client: a redirect to another origin is never
// followed, one to the same origin only when followSame is set, and then as next (the caller's
// CheckRedirect, if any) decides. A redirect that is not followed comes back as the answer, which
// attempt turns into an error.
//
// Every request the Client sends carries a secret (an app secret, a refresh token, a code, an
// access token), in its body or its query. net/http would send a 307 or 308's body again to
// wherever Location points, and after a 301, 302 or 303 it would GET that place and hand back its
// answer as the platform's: a token request must not go anywhere but the configured host.
func redirectPolicy(followSame bool, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !followSame || !sameOrigin(via[0].URL, req.URL) {
			return http.ErrUseLastResponse
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxSameOriginRedirects {
			return errors.New("stopped after " + strconv.Itoa(maxSameOriginRedirects) + " redirects")
		}
		return nil
	}
}

// sameOrigin reports whether a and b have the same scheme, host and port (an absent port being the
// scheme's default).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// redirectError returns the error for a redirect that was not followed, nil for any other answer.
// It names the status and, for another origin, the scheme and host the Location points to; never
// the Location's path or query, which may echo the request's secrets.
func (c *Client) redirectError(p *prepared, raw *http.Response) error {
	switch raw.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	loc := raw.Header.Get("Location")
	if loc == "" {
		return nil // net/http does not follow it either: an answer like any other
	}
	msg := "HTTP " + strconv.Itoa(raw.StatusCode) + " redirect "
	from, _ := url.Parse(p.url)
	if raw.Request != nil && raw.Request.URL != nil {
		from = raw.Request.URL
	}
	to, err := from.Parse(loc)
	switch {
	case err != nil:
		msg += "to an unreadable Location"
	case sameOrigin(from, to):
		msg += "within the same host not followed: the platform is not known to redirect this endpoint"
	default:
		origin := Line(redact.Known(to.Scheme+"://"+to.Host, p.secrets...), 100)
		msg += "to another host (" + origin + ") not followed: a request that carries secrets goes to the configured host only"
	}
	return &shoptoken.Error{
		Platform:   c.platform,
		Op:         p.op,
		StatusCode: raw.StatusCode,
		Kind:       shoptoken.ErrBadResponse,
		Message:    msg,
	}
}
