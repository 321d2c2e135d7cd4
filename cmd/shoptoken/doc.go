// Command shoptoken operates the tokens an ISV keeps with the shoptoken SDK, for the people who
// keep an order sync running: support, operations, and other teams' test suites.
//
//	shoptoken inspect SHOP        a shop's stored token, redacted, its plan and its lease
//	shoptoken list --expiring 72h shops by state (also --needs-authorization, --failing)
//	shoptoken refresh SHOP        a refresh now, through the fleet's lease, saved before printing
//	shoptoken revoke SHOP         vip.com: revoke and remove, so the fleet sees ErrReauthorize
//	shoptoken authorize           vip.com code flow, Youzan tool-app code exchange; stored for the fleet
//	shoptoken keeper              the Keeper of every configured app as a service
//	shoptoken emulate youzan ...  the platform emulators on one port, faults over HTTP
//
// It is a module of its own (github.com/shoptoken/shoptoken/cmd/shoptoken), so that its
// dependencies (cobra, YAML, the Prometheus exporter, SQL drivers) never reach a program that
// imports the SDK. Install it with
//
//	go install github.com/shoptoken/shoptoken/cmd/shoptoken@latest
//
// Configuration comes from flags, then SHOPTOKEN_* environment variables, then one YAML file
// (--config) that lists the apps and the store. Secrets come only from environment variables or
// files; a secret flag is refused, and so is a secret written in the config file. Every verb
// prints for people by default and JSON with --json, and exits with a code a script can rely
// on: 0 ok, 1 usage or configuration, 2 not found, 3 needs authorization, 4 platform or store
// unavailable, 5 app credentials refused, 6 other failure. See the README's "Operating it".
package main
