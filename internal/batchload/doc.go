// Package batchload loads many keys from a store in batches, several batches in flight at a
// time: the worker pool behind the stores' LoadMany. A store says how one batch is read (one
// pipeline, one query); the package hands the batches out, merges what they found into one map,
// collects the damage they report, and stops handing out batches once one fails outright.
//
// Batches overlap: while one worker waits for its round trip, another decodes the answer it got,
// so a cold start of a fleet's worth of keys costs about the round trips of len(keys)/size
// batches divided by the workers, not the sum of them.
package batchload
