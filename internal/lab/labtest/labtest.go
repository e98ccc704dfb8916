// Package labtest starts a lab for an e2e test and tears it down when the
// test ends. Tests that need a lab call Up; where the lab cannot run (not
// root, tools missing) the test is skipped, unless ETCDFORM_E2E=required
// (set by `make test` and CI), in which case it fails.
package labtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
)

// Up brings up a lab in a fresh temporary directory.
func Up(t testing.TB, opts lab.Options) *lab.State {
	t.Helper()
	if err := lab.Preflight(); err != nil {
		if os.Getenv("ETCDFORM_E2E") == "required" {
			t.Fatalf("e2e test needs the lab: %v", err)
		}
		t.Skipf("skipping e2e test: %v", err)
	}
	if removed, err := lab.CleanStale(context.Background()); err != nil {
		t.Logf("cleaning stale labs: %v", err)
	} else if len(removed) > 0 {
		t.Logf("removed the leftovers of dead labs: %v", removed)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // includes a first etcd build
	defer cancel()
	st, err := lab.Up(ctx, opts, func(s string) { t.Log("lab:", s) })
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := lab.Down(ctx, st.Dir); err != nil && !errors.Is(err, lab.ErrNotUp) {
			t.Errorf("lab down: %v", err)
		}
	})
	return st
}

// Eventually polls cond until it returns nil or the timeout passes, and
// fails the test with cond's last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation
	}
}
