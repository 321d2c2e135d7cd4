package shoptokentest

import (
	"html"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// WithConsentPage makes the browser's authorize endpoint of VipAuth (GET /oauth2/authorize) and
// Youzan (GET /oauth/authorize) show a consent page, as the platforms do, instead of consenting at
// once: a form with two buttons, 授权 / Authorize (id "authorize") and 拒绝 / Deny (id "deny"),
// that POSTs the request's parameters and the decision back to the same path. The answer to the
// POST is what GET answers without this option: a redirect to the callback with a code, or with
// error=access_denied for Deny (DenyNext turns Authorize into a refusal too). The parameters are
// checked on both requests, with the same strictness, so a form edited in between gets no code.
// Use it with a real browser; an http.Client test can POST the form itself. Other emulators ignore
// it.
func WithConsentPage() Option {
	return func(o *options) { o.consentPage = true }
}

// consentPage renders the form: title names the platform, who the account that consents, params
// the request's parameters (sent back as hidden fields).
func consentPage(title, who string, params url.Values) answer {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\"><title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title></head>\n<body>\n<h1>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</h1>\n<p>应用 <b id=\"client\">")
	b.WriteString(html.EscapeString(params.Get("client_id")))
	b.WriteString("</b> 请求访问 <b id=\"account\">")
	b.WriteString(html.EscapeString(who))
	b.WriteString("</b> 的数据 (the app asks for access to this account's data).</p>\n<form method=\"post\">\n")
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(`<input type="hidden" name="`)
		b.WriteString(html.EscapeString(k))
		b.WriteString(`" value="`)
		b.WriteString(html.EscapeString(params.Get(k)))
		b.WriteString("\">\n")
	}
	b.WriteString(`<button type="submit" id="authorize" name="decision" value="allow">授权 / Authorize</button>` + "\n")
	b.WriteString(`<button type="submit" id="deny" name="decision" value="deny">拒绝 / Deny</button>` + "\n")
	b.WriteString("</form>\n</body>\n</html>\n")
	return answer{status: http.StatusOK, ctype: ctypeHTML, body: []byte(b.String())}
}

// authorizeParams returns the parameters of an authorize request and whether the person decided
// (a POST from the consent page): GET reads the query, POST the form. denied is the decision.
func authorizeParams(r *http.Request) (params url.Values, decided, denied bool, ok bool) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return r.URL.Query(), false, false, true
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			return nil, false, false, false
		}
		params = url.Values{}
		for k, vs := range r.PostForm {
			if k != "decision" {
				params[k] = vs
			}
		}
		return params, true, r.PostForm.Get("decision") != "allow", true
	}
	return nil, false, false, false
}

// redirectWith answers a 302 to redirect with params added to its query; nil if redirect is not
// an absolute URL.
func redirectWith(redirect string, params url.Values) *answer {
	u, err := url.Parse(redirect)
	if err != nil || !u.IsAbs() {
		return nil
	}
	uq := u.Query()
	for k, vs := range params {
		uq[k] = vs
	}
	u.RawQuery = uq.Encode()
	return &answer{status: http.StatusFound, ctype: ctypeHTML, header: http.Header{"Location": {u.String()}}}
}
