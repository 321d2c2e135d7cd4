//go:build race

package youzan_test

// raceEnabled says the race detector is on: a test that measures at scale measures less.
const raceEnabled = true
