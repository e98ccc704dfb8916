package ssh_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

// Issue 15 #3: the host lock that stands in for the in-cluster lock under
// NOSPACE. One holder at a time; the refusal names the holder; Release and
// a dropped connection (a crashed apply) both free it.
func TestHostLock(t *testing.T) {
	t.Parallel()
	h := newHost(t, sshtest.Options{})
	a, b := dial(t, h.cfg), dial(t, h.cfg)
	path := filepath.Join(t.TempDir(), "etcdform", "apply.lock")
	ctx := ctxFor(t)

	la, err := a.Lock(ctx, path, "alice at ci-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := la.Check(); err != nil {
		t.Fatalf("Check of a held lock: %v", err)
	}
	_, err = b.Lock(ctx, path, "bob at ci-2")
	if !errors.Is(err, sshp.ErrHostLockHeld) || !strings.Contains(err.Error(), "alice at ci-1") {
		t.Fatalf("second Lock: %v, want ErrHostLockHeld naming alice", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Lock(ctx, path, "bob at ci-2")
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}

	// bob's apply crashes: its connection drops without a Release.
	b.Close()
	c := dial(t, h.cfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		lc, err := c.Lock(ctx, path, "carol")
		if err == nil {
			_ = lc.Release(ctx)
			break
		}
		if !errors.Is(err, sshp.ErrHostLockHeld) || time.Now().After(deadline) {
			t.Fatalf("Lock after the holder's connection dropped: %v", err)
		}
	}
	if err := lb.Check(); err == nil {
		t.Error("Check of a lock whose connection dropped passed")
	}
}
