package reauth

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"

	"github.com/shoptoken/shoptoken"
)

// outcome is what the merchant is shown: a page per reason, in Chinese and English.
type outcome struct {
	reason  string // the page's data-reason, for tests and monitoring
	status  int
	titleZH string
	titleEN string
	textZH  string // may hold {shop} and {platform}
	textEN  string
}

// The outcomes. Every failure says that nothing was changed, and what to do next.
var (
	outSuccess = outcome{"authorized", http.StatusOK,
		"授权成功", "Authorized",
		"{platform}店铺 {shop} 已重新授权，订单同步会自动恢复。您可以关闭此页面。",
		"Shop {shop} on {platform} has authorized the app again; syncing resumes by itself. You can close this page."}
	outLinkInvalid = outcome{"link-invalid", http.StatusBadRequest,
		"链接无效", "This link is not valid",
		"链接不完整或已被修改，未做任何更改。请向服务商索取新的授权链接。",
		"The link is incomplete or was altered. Nothing was changed. Ask your service provider for a new authorization link."}
	outLinkExpired = outcome{"link-expired", http.StatusGone,
		"链接已过期", "This link has expired",
		"这个授权链接已过有效期，未做任何更改。请向服务商索取新的授权链接。",
		"This authorization link is past its time. Nothing was changed. Ask your service provider for a new link."}
	outLinkUsed = outcome{"link-used", http.StatusConflict,
		"链接已使用", "This link has already been used",
		"这个授权链接已经完成过一次授权，只能使用一次，未做任何更改。如需再次授权，请索取新的链接。",
		"This authorization link has already been used, and works only once. Nothing was changed. To authorize again, ask for a new link."}
	outUnknownApp = outcome{"unknown-app", http.StatusNotFound,
		"链接不适用于此服务", "This link is not for this service",
		"链接所指的平台或应用不由此服务处理，未做任何更改。请向服务商索取新的授权链接。",
		"The link names a platform or app that this service does not handle. Nothing was changed. Ask your service provider for a new link."}
	outStateMismatch = outcome{"state-mismatch", http.StatusForbidden,
		"无法确认此次授权", "This authorization could not be verified",
		"平台的回应与此浏览器中开始的授权不符（可能在另一个浏览器中打开了链接，或请求是伪造的），未做任何更改。请在同一浏览器中重新打开授权链接。",
		"The platform's answer does not match an authorization started in this browser (the link may have been opened in another browser, or the request was forged). Nothing was changed. Open the authorization link again, in one browser."}
	outFlowExpired = outcome{"flow-expired", http.StatusGone,
		"授权超时", "The authorization took too long",
		"从打开链接到完成授权的时间过长，未做任何更改。请重新打开授权链接。",
		"Too much time passed between opening the link and authorizing. Nothing was changed. Open the authorization link again."}
	outStateUsed = outcome{"already-handled", http.StatusConflict,
		"此授权已处理", "This authorization was already handled",
		"平台的这次回应已经处理过（重复提交或刷新了页面），未做任何更改。",
		"This answer from the platform was already handled (a double submit or a reload). Nothing was changed."}
	outDenied = outcome{"denied", http.StatusForbidden,
		"您已拒绝授权", "You declined the authorization",
		"{platform}店铺 {shop} 的授权没有更改。如需授权，请重新打开授权链接。",
		"Nothing was changed for shop {shop} on {platform}. To authorize, open the authorization link again."}
	outOtherShop = outcome{"other-shop", http.StatusForbidden,
		"授权的店铺与链接不符", "You authorized another shop",
		"此链接用于{platform}店铺 {shop}，但平台授权的是另一个店铺或账号，未保存任何内容。请用该店铺的账号登录后重新打开授权链接。",
		"This link is for shop {shop} on {platform}, but the platform authorized another shop or account. Nothing was saved. Sign in with that shop's account and open the link again."}
	outPlatform = outcome{"platform-error", http.StatusBadGateway,
		"平台未完成授权", "The platform did not complete the authorization",
		"{platform}未能完成店铺 {shop} 的授权，未做任何更改。请稍后重新打开授权链接；如果仍然失败，请联系服务商。",
		"{platform} did not complete the authorization of shop {shop}. Nothing was changed. Open the authorization link again later; if it fails again, contact your service provider."}
	outUnavailable = outcome{"unavailable", http.StatusServiceUnavailable,
		"暂时无法完成授权", "The authorization cannot be completed right now",
		"服务暂时不可用，未做任何更改。请稍后重新打开授权链接。",
		"The service is unavailable for a moment. Nothing was changed. Open the authorization link again later."}
	outInternal = outcome{"misconfigured", http.StatusInternalServerError,
		"服务配置错误", "The service is misconfigured",
		"未做任何更改。请联系服务商。",
		"Nothing was changed. Please contact your service provider."}
	outNotFound = outcome{"not-found", http.StatusNotFound,
		"页面不存在", "Page not found",
		"请使用服务商发给您的授权链接。",
		"Use the authorization link your service provider sent you."}
	outMethod = outcome{"method-not-allowed", http.StatusMethodNotAllowed,
		"请求方式不支持", "Method not allowed",
		"请在浏览器中打开授权链接。",
		"Open the authorization link in a browser."}
)

// pageData is what the template shows; every field is escaped by html/template.
type pageData struct {
	OK      bool
	Reason  string
	TitleZH string
	TitleEN string
	TextZH  string
	TextEN  string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.TitleZH}} / {{.TitleEN}}</title>
<style>
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.6;color:#1f2328}
h1{font-size:1.5rem;margin:0 0 .5rem}
.ok h1{color:#1a7f37}.fail h1{color:#cf222e}
.en{color:#59636e;border-top:1px solid #d1d9e0;margin-top:1.5rem;padding-top:1rem}
.en h1{font-size:1.2rem}
</style>
</head>
<body class="{{if .OK}}ok{{else}}fail{{end}}" id="{{if .OK}}reauth-success{{else}}reauth-failure{{end}}" data-reason="{{.Reason}}">
<main>
<section lang="zh-CN">
<h1>{{.TitleZH}}</h1>
<p>{{.TextZH}}</p>
</section>
<section lang="en" class="en">
<h1>{{.TitleEN}}</h1>
<p>{{.TextEN}}</p>
</section>
</main>
</body>
</html>
`))

// contentSecurity lets the page show its own inline style and nothing else: no script, no
// external asset, no form, no frame around it.
const contentSecurity = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// secureHeaders are set on every answer: none may be cached, framed, or leak its URL (the
// callback's carries the code and the state) as a Referer.
func secureHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// render writes o's page, naming k's shop and platform where the text asks for them.
func render(w http.ResponseWriter, o outcome, k shoptoken.Key) {
	zh := strings.NewReplacer("{shop}", k.Shop, "{platform}", platformName(k.Platform, 0))
	en := strings.NewReplacer("{shop}", k.Shop, "{platform}", platformName(k.Platform, 1))
	var buf bytes.Buffer
	// The template and its data are the package's own: executing it cannot fail.
	_ = pageTemplate.Execute(&buf, pageData{
		OK: o.status == http.StatusOK, Reason: o.reason,
		TitleZH: o.titleZH, TitleEN: o.titleEN,
		TextZH: zh.Replace(o.textZH), TextEN: en.Replace(o.textEN),
	})
	h := w.Header()
	secureHeaders(h)
	h.Set("Content-Security-Policy", contentSecurity)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(o.status)
	_, _ = w.Write(buf.Bytes())
}

// platformNames are the platforms' names as merchants know them, Chinese then English.
var platformNames = map[string][2]string{
	"vipauth": {"唯品会", "vip.com"},
	"youzan":  {"有赞", "Youzan"},
}

// platformName returns the name of platform for the page in lang 0 (Chinese) or 1 (English):
// the platform's own name for one it does not know.
func platformName(platform string, lang int) string {
	if n, ok := platformNames[platform]; ok {
		return n[lang]
	}
	return platform
}
