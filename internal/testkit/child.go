package testkit

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Child is the test binary run again as a child process, running one test function that finds
// its part in the environment: how the multi-process proofs start the processes of a fleet.
type Child struct {
	// Name is the child's name in failure messages.
	Name string
	cmd  *exec.Cmd
	out  LogBuffer
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// StartChild runs the test binary again, as a child process named name, running only the test
// function test (a TestHelperProcess that does nothing unless its environment says what to do),
// with env (KEY=value) added to this process's environment. A child still running when the test
// ends is killed. A child that cannot start fails the test.
func StartChild(tb testing.TB, name, test string, env ...string) *Child {
	tb.Helper()
	c := &Child{Name: name, done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v=false")
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		tb.Fatalf("start child %s: %v", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	tb.Cleanup(c.Kill)
	return c
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Done is closed once the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Err returns how the child exited: nil for exit status 0. It is nil while the child runs.
func (c *Child) Err() error {
	if !c.Exited() {
		return nil
	}
	return c.err
}

// Output returns the last 4000 bytes the child wrote to stdout and stderr.
func (c *Child) Output() string {
	s := c.out.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// Kill sends SIGKILL, unless the child has exited, and waits for it to be gone.
func (c *Child) Kill() {
	if c.Exited() {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// WaitChildren waits, timeout in all, for each of kids to exit, failing the test for each that
// exits with an error (showing its output) or not in time (killing it).
func WaitChildren(tb testing.TB, timeout time.Duration, kids ...*Child) {
	tb.Helper()
	deadline := time.After(timeout)
	for _, c := range kids {
		select {
		case <-c.done:
			if c.err != nil {
				tb.Errorf("child %s exited with %v:\n%s", c.Name, c.err, c.Output())
			}
		case <-deadline:
			tb.Errorf("child %s did not stop in time:\n%s", c.Name, c.Output())
			c.Kill()
		}
	}
}

// WaitFor calls cond every 5 ms until it holds, or fails the test once timeout has passed, with
// what and the reason cond last gave.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() (ok bool, why string)) {
	tb.Helper()
	end := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			tb.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Sleep sleeps d or until ctx ends, and reports whether it slept d.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
