// Package fleetproof holds the multi-process proofs that every store shared by a fleet must pass,
// and the board their processes report to. redisstore's fleet tests and sqlstore's run them
// against the real servers: child processes (the test binary run again, testkit.StartChild) share
// one store, and the parent freezes, resumes and stops them and asserts on what they reported.
//
// A store's test supplies what only it knows (a store on the shared data, whether a lease is held
// by the server's clock, how to start a child with a store of its own) and calls the proof's Run;
// its TestHelperProcess calls the child's part (RunStall) with a store it opened.
package fleetproof
