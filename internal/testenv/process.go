package testenv

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// startServer runs a server of the test's own, bin with args in dir, its output in log; the
// server is stopped, and waited for, when the test ends. It returns once ready answers true,
// and fails the test with the server's output if the server exits first or is not ready
// within; what names what ready waits for.
func startServer(t testing.TB, name, what, bin string, args []string, dir string, log *LogBuffer, within time.Duration, ready func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s %s: %v", name, bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	for deadline := time.Now().Add(within); !ready(); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", name, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s:\n%s", what, within, log.String())
		}
	}
}
