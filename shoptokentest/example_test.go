package shoptokentest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

// must stops the example on a transport error.
func must(resp *http.Response, err error) *http.Response {
	if err != nil {
		log.Fatal(err)
	}
	return resp
}

// decode reads a JSON answer into v.
func decode(resp *http.Response, v any) {
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		log.Fatal(err)
	}
}

func ExampleNewYouzan() {
	yz := shoptokentest.NewYouzan() // accepts client "id" / "secret"
	defer yz.Close()

	var tok struct {
		Success bool `json:"success"`
		Code    int  `json:"code"`
		Data    struct {
			AccessToken string `json:"access_token"`
			AuthorityID string `json:"authority_id"`
		} `json:"data"`
	}
	body := `{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":"88888","refresh":false}`
	decode(must(yz.Client().Post(yz.URL+"/auth/token", "application/json", strings.NewReader(body))), &tok)
	fmt.Println(tok.Success, tok.Code, tok.Data.AuthorityID)

	var call struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	api := yz.URL + "/api/youzan.shop.get/3.0.0?access_token=" + url.QueryEscape(tok.Data.AccessToken)
	decode(must(yz.Client().Post(api, "application/json", strings.NewReader(`{}`))), &call)
	fmt.Println(call.Code, call.Message, call.Data.Name)

	st := yz.Stats()
	fmt.Println(st.TokenRequests, st.Issued, st.APICalls)
	// Output:
	// true 200 88888
	// 200 successful youzan.shop.get
	// 1 1 1
}

func ExampleNewVVTool() {
	vv := shoptokentest.NewVVTool() // accepts Account "account" / AccessKey "key"
	defer vv.Close()

	fetch := func() string {
		// multipart/form-data, as the platform's curl --form sends it
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("grant_type", "client_credentials")
		_ = mw.WriteField("client_id", "account")
		_ = mw.WriteField("client_secret", "key")
		_ = mw.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		decode(must(vv.Client().Post(vv.URL+"/oauth/token", mw.FormDataContentType(), &body)), &tok)
		return tok.AccessToken
	}
	info := func(token string) {
		req, _ := http.NewRequest(http.MethodGet, vv.URL+"/tool/members/info", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var out struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		}
		resp := must(vv.Client().Do(req))
		decode(resp, &out)
		status := resp.StatusCode
		fmt.Println(status, out.Code, out.Msg)
	}

	first := fetch()
	second := fetch() // kills the first
	info(first)
	info(second)
	st := vv.Stats()
	fmt.Println(st.Issued, st.Rejected)
	// Output:
	// 401 401 身份凭证无效
	// 200 0 成功
	// 2 1
}

func ExampleNewVipAuth() {
	va := shoptokentest.NewVipAuth() // accepts client "id" / "secret"
	defer va.Close()
	const redirect = shoptokentest.VipAuthRedirectURI // registered unless WithRedirectURIs says otherwise

	// The browser: the emulated user consents at once.
	browser := *va.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(va.OAuthURL + "/authorize?client_id=id&response_type=code&state=s1&redirect_uri=" + url.QueryEscape(redirect))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println(resp.StatusCode, back.Query().Get("state"))

	// The server: exchange the code, every parameter in the query string of a POST, as the
	// platform documents.
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		OpenID      string `json:"open_id"`
	}
	exchange := url.Values{
		"client_id": {"id"}, "client_secret": {"secret"}, "grant_type": {"authorization_code"},
		"redirect_uri": {redirect}, "request_client_ip": {"203.0.113.7"}, "code": {back.Query().Get("code")},
	}
	decode(must(va.Client().Post(va.OAuthURL+"/token?"+exchange.Encode(), "", nil)), &tok)
	fmt.Println(tok.ExpiresIn, tok.OpenID == shoptokentest.VipAuthOpenID)

	var revoked struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	decode(must(va.Client().Post(va.OAuthURL+"/revoke_token?access_token="+tok.AccessToken, "", nil)), &revoked)
	fmt.Println(revoked.Code, revoked.Msg, va.Valid(tok.AccessToken))
	// Output:
	// 302 s1
	// 2592000 true
	// 0 success false
}

func ExampleNewVeapi() {
	ve := shoptokentest.NewVeapi() // accepts vekey "vekey"
	defer ve.Close()
	first := ve.NewGrant("vip-user-1")

	type answer struct {
		Error string `json:"error"` // a string, even on success: "0"
		Msg   string `json:"msg"`
		Data  struct {
			RefreshToken string `json:"refresh_token"`
			ExpiresIn    int64  `json:"expires_in"`
			Status       string `json:"status"`
		} `json:"data"`
	}
	var a answer
	decode(must(ve.Client().Get(ve.URL+"/vip/refreshtoken?vekey=vekey&refresh_token="+first)), &a)
	fmt.Println(a.Error, a.Msg, a.Data.ExpiresIn, a.Data.Status)

	// The used refresh token died with the rotation.
	var again answer
	decode(must(ve.Client().Get(ve.URL+"/vip/refreshtoken?vekey=vekey&refresh_token="+first)), &again)
	fmt.Println(again.Error, again.Msg, ve.Stats().DeadRefreshUsed)
	// Output:
	// 0 接口调用成功! 7775999 NORMAL
	// 10012 refresh_token已失效 1
}

func ExampleYouzan_FailNext() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	body := `{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":"88888","refresh":true}`

	// The token is issued, but the answer is lost on the way back.
	yz.FailNext(shoptokentest.FaultDrop, 1)
	_, err := yz.Client().Post(yz.URL+"/auth/token", "application/json", strings.NewReader(body))
	st := yz.Stats()
	fmt.Println(err != nil, st.TokenRequests, st.Issued)
	// Output: true 1 1
}

func ExampleLenient() {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"account"}, "client_secret": {"key"}}
	for _, vv := range []*shoptokentest.VVTool{
		shoptokentest.NewVVTool(),                        // strict: only the documented multipart body
		shoptokentest.NewVVTool(shoptokentest.Lenient()), // lenient: a urlencoded body works too
	} {
		resp := must(vv.Client().PostForm(vv.URL+"/oauth/token", form))
		resp.Body.Close()
		fmt.Println(resp.StatusCode, vv.Stats().Issued)
		vv.Close()
	}

	yz := shoptokentest.NewYouzan(shoptokentest.WithGrants("42587152"))
	defer yz.Close()
	for _, grant := range []string{"42587152", "99999"} {
		var answer struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		body := `{"client_id":"id","client_secret":"secret","authorize_type":"silent","grant_id":"` + grant + `","refresh":false}`
		decode(must(yz.Client().Post(yz.URL+"/auth/token", "application/json", strings.NewReader(body))), &answer)
		fmt.Println(grant, answer.Code)
	}
	// Output:
	// 400 0
	// 200 1
	// 42587152 200
	// 99999 1103
}
