//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filestore

import (
	"errors"
	"os"
	"runtime"
)

// errUnsupported is returned by New where the standard library offers no flock(2). A lock-file
// scheme (O_EXCL create) would survive its holder's crash and need stale-lock guessing, which is
// what flock avoids; such systems should use redisstore or MemoryStore instead.
var errUnsupported = errors.New("filestore: not supported on " + runtime.GOOS + " (needs flock)")

func supported() error { return errUnsupported }

func tryLock(*os.File) (bool, error) { return false, errUnsupported }

func unlockFile(*os.File) error { return errUnsupported }
