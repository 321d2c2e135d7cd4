// Package readmecheck holds the test that every Go snippet of the repository's README.md
// compiles against the SDK as it is. It is a module of its own so that it can depend on every
// module of the repository (stores, integrations) without any of them depending on it.
//
// A snippet is the body of a function returning error (so `return err` works), or a whole file
// when it starts with "package". The names snippets use without declaring them (ctx, store, rdb,
// id, secret, kdtID...) are declared in prelude.go; add one there when a new snippet needs it.
package readmecheck
