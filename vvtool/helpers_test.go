package vvtool_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

// The emulator's default credentials.
const (
	account   = "account"
	accessKey = "key"
)

// readFixture is testkit.Fixture.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	return testkit.Fixture(t, name)
}

// emuConfig is a Config that fetches from emu through hc (nil: the emulator's own client).
func emuConfig(emu *shoptokentest.VVTool, hc *http.Client) vvtool.Config {
	if hc == nil {
		hc = emu.Client()
	}
	return vvtool.Config{Account: account, AccessKey: accessKey, TokenURL: emu.URL + "/oauth/token", HTTPClient: hc}
}

// fromIP returns a client over emu's transport that says it comes from ip (the emulator reads
// the address from X-Forwarded-For when started WithIPHeader).
func fromIP(emu *shoptokentest.VVTool, ip string) *http.Client {
	return &http.Client{Transport: headerTransport{base: emu.Client().Transport, name: "X-Forwarded-For", value: ip}}
}

type headerTransport struct {
	base        http.RoundTripper
	name, value string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return h.base.RoundTrip(r)
}

// newClient is vvtool.NewClient with API calls sent through hc (nil: the SDK's default client).
func newClient(t testing.TB, src shoptoken.TokenSource, hc *http.Client) *vvtool.Client {
	t.Helper()
	cl, err := vvtool.NewClient(vvtool.Config{Account: account, AccessKey: accessKey, HTTPClient: hc}, src)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return cl
}

// doer sends a request: *http.Client and *vvtool.Client.
type doer interface {
	Do(*http.Request) (*http.Response, error)
}

// info calls /tool/members/info and reports an error unless the platform answered code 0.
func info(ctx context.Context, hc doer, emu *shoptokentest.VVTool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, emu.URL+"/tool/members/info", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var ans struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ans) != nil || ans.Code != 0 {
		return &answerError{status: resp.StatusCode, body: string(body)}
	}
	return nil
}

type answerError struct {
	status int
	body   string
}

func (e *answerError) Error() string {
	return "HTTP " + http.StatusText(e.status) + ": " + strings.TrimSpace(e.body)
}
