// Package bench compares shoptoken's Cache with the token caches Go engineers already know:
// golang.org/x/oauth2's ReuseTokenSource, aws-sdk-go-v2's aws.CredentialsCache and
// cloud.google.com/go/auth's cached token provider. It is its own module so that the SDK's go.mod
// stays lean. See README.md for the command and the results.
package bench
