// Package fleettest holds the fleet-level proofs of shoptoken: tests that run several processes
// (the test binary re-executed as children) against one real Redis and one shoptokentest platform
// emulator, kill and stall them, and restart Redis under them, and then assert on what the
// platform saw: how many tokens were fetched, whether a rotated refresh token was ever lost, and
// whether any caller got an error. The fencing proof is internal/fleetproof's, which sqlstore runs
// on PostgreSQL and MariaDB too. Smaller tests pin down, one at a time, the store behaviours
// those runs can hit by chance: a store that comes back after failing, and one that lost its data.
//
// The package has no code of its own; everything is in its _test.go files. The tests need a
// Redis at 127.0.0.1:6379 (or REDIS_ADDR) and are skipped without one, unless
// SHOPTOKEN_REQUIRE_REDIS=1, which makes a missing Redis a failure (CI sets it). The restart test
// also needs the redis-server binary on PATH, under the same rule. Every test uses its own random
// key prefix and deletes its keys when it ends.
//
// They live in the redisstore module, so that the root module needs no Redis client. Run them
// with the race detector, from redisstore/:
//
//	go test -race ./internal/fleettest/
package fleettest
