// Command quickstart is shoptoken's demo. It runs offline, against the engine with a fake platform
// and against the built-in emulators of the four platforms (package shoptokentest), and prints what
// happens as a table. It exits non-zero if anything did not behave as promised.
//
//	go run ./examples/quickstart
package main
