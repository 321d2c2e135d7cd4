package xoauth2_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/xoauth2"
)

// The README's x/oauth2 snippets, compiled here. TestREADME checks that the README shows each
// block between "// README:" and "// README end" verbatim (less one level of indentation).

func readmeRefresher(clientID, clientSecret, tokenURL, shopID, granted string, store shoptoken.Store) (*shoptoken.Cache, error) {
	// README: refresher
	cache, err := xoauth2.NewSource(xoauth2.Config{
		Platform: "acme",
		OAuth2: &oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		SubjectField: "open_id", // the answer's member that says whose grant it is
	}, shopID,
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted}), // or xoauth2.FromOAuth2(exchanged)
		shoptoken.WithStore(store))
	// README end
	return cache, err
}

func readmeTokenSource(ctx context.Context, cache *shoptoken.Cache, app *shops.App, shop string) {
	// README: token source
	hc := oauth2.NewClient(ctx, xoauth2.NewTokenSource(cache)) // Token() asks with context.Background()
	ts := xoauth2.ContextTokenSource(ctx, app.Source(shop))    // bound to ctx: deadline, cancellation, trace span
	// README end
	_, _ = hc, ts
}

var readmeBlock = regexp.MustCompile(`(?s)\n\t// README: [^\n]*\n(.*?)\t// README end\n`)

func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("readme_test.go")
	require.NoError(t, err)
	blocks := readmeBlock.FindAllStringSubmatch(string(src), -1)
	require.Len(t, blocks, 2)
	for _, b := range blocks {
		lines := strings.Split(strings.TrimSuffix(b[1], "\n"), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		want := "```go\n" + strings.Join(lines, "\n") + "\n```"
		if !strings.Contains(string(readme), want) {
			t.Errorf("the README does not show this snippet as it compiles here:\n%s", want)
		}
	}
}
