package veapi

import (
	"net/http"
	"strings"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/phrase"
)

// classify gives a veapi error answer its kind. veapi's code table could not be retrieved, so the
// codes mean nothing here: the message decides, rule by rule, and what no rule recognises is
// ErrUnavailable (see the package documentation for why). The first matching rule wins.
func classify(msg string, status int) error {
	m := strings.ToLower(msg)
	switch {
	case phrase.Any(m, "频繁", "限流", "too many", "rate limit", "limit", "次数", "quota"):
		return shoptoken.ErrRateLimited
	case phrase.Any(m, "稍后", "繁忙", "busy", "系统错误", "系统异常", "服务异常", "内部错误",
		"超时", "timeout", "try again", "later", "维护"):
		return shoptoken.ErrUnavailable
	case phrase.Any(m, "vekey", "秘钥", "密钥", "apikey", "api key"):
		return shoptoken.ErrCredentials
	case grantGone(m):
		return shoptoken.ErrReauthorize
	case phrase.Any(m, "key"):
		return shoptoken.ErrCredentials
	case phrase.Any(m, "权限", "会员", "permission", "无权", "未开通", "forbidden"):
		// The account behind the vekey may not call the interface (veapi sells it with a
		// membership): the operator must act, not the merchant and not a retry.
		return shoptoken.ErrCredentials
	case phrase.Any(m, "不能为空", "为空", "缺少", "missing", "required", "参数"):
		return shoptoken.ErrBadRequest
	case status == http.StatusTooManyRequests || status >= 500:
		return shoptoken.KindForStatus(status)
	}
	return shoptoken.ErrUnavailable
}

// grantGone reports whether m says the refresh token or the authorization is no longer good.
func grantGone(m string) bool {
	if phrase.Any(m, "重新授权", "未授权", "取消授权", "授权已", "解除授权", "reauthorize", "re-authorize") {
		return true
	}
	return phrase.Any(m, "refresh_token", "refresh token", "refreshtoken", "令牌", "token", "授权") &&
		phrase.Any(m, "失效", "过期", "不存在", "无效", "错误", "已使用", "已被使用", "invalid",
			"expired", "revoked", "not exist", "not found", "unknown", "used")
}

// sessionRejected reports whether an API answer's message says the sessionkey (access token) was
// not accepted: missing, unknown, superseded or expired.
func sessionRejected(msg string) bool {
	m := strings.ToLower(msg)
	return phrase.Any(m, "sessionkey", "session", "access_token", "access token", "token", "授权") &&
		phrase.Any(m, "无效", "过期", "失效", "不存在", "invalid", "expired", "revoked", "not exist")
}
