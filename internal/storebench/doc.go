// Package storebench holds the benchmarks every shared store runs, and the tokens and keys they
// use, so that the figures of redisstore, sqlstore and filestore measure the same thing and can be
// read side by side:
//
//	go test -run '^$' -bench . ./redisstore ./sqlstore
//
// (from the repository root, whose go.work lists both modules). A store's _test.go files call
// them from its Benchmark functions, with a store of its own and, for LoadMany, its own fastest
// way to fill in a fleet's worth of tokens (Fleet and FleetKeys say what to write).
package storebench
