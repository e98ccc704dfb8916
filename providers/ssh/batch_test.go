package ssh_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

// TestBatch: reads made through a Batch against a real sshd get the answers
// they get alone (content with NUL and invalid UTF-8, a missing file, a
// failed command's exit status and stderr), in one session per round: the
// first commands of every function in one, the commands asked after
// reading those in the next.
func TestBatch(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	file := filepath.Join(dir, "it's a file")
	content := []byte("line 1\n\x00binary\xff no newline")
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t)

	b := c.NewBatch()
	bc := b.Client()
	var got []byte
	var missingErr, failErr error
	var code int
	var stderr []byte
	var second string
	b.Go(func() {
		var err error
		if got, err = bc.ReadFile(ctx, file); err != nil {
			t.Error(err)
			return
		}
		// asked after the first answer: the second round
		out, _, _, err := bc.Run(ctx, "echo second")
		if err != nil {
			t.Error(err)
		}
		second = string(out)
	})
	b.Go(func() { _, missingErr = bc.ReadFile(ctx, filepath.Join(dir, "missing")) })
	b.Go(func() { _, stderr, code, failErr = bc.Run(ctx, "echo oops >&2; exit 5") })
	b.Go(func() {}) // a function that asks nothing
	b.Wait()

	if !bytes.Equal(got, content) {
		t.Errorf("ReadFile = %q, want %q", got, content)
	}
	if !errors.Is(missingErr, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", missingErr)
	}
	if failErr != nil || code != 5 || string(stderr) != "oops\n" {
		t.Errorf("failing command: code %d, stderr %q, err %v; want 5, \"oops\\n\", nil", code, stderr, failErr)
	}
	if second != "second\n" {
		t.Errorf("second round = %q", second)
	}
	if n := b.Sessions(); n != 2 {
		t.Errorf("%d sessions, want 2 (one per round)", n)
	}
}

// TestBatchCancelled: a function whose context ends returns at once with
// its context's error, and the others of its round still get their
// answers.
func TestBatchCancelled(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	b := c.NewBatch()
	bc := b.Client()
	cctx, cancel := context.WithCancel(ctxFor(t))
	var cancelledErr, otherErr error
	var out []byte
	b.Go(func() { _, _, _, cancelledErr = bc.Run(cctx, "sleep 2") })
	b.Go(func() { out, _, _, otherErr = bc.Run(ctxFor(t), "echo other") })
	deadline := time.Now().Add(10 * time.Second)
	for b.Sessions() == 0 && time.Now().Before(deadline) { // the round is sent
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	b.Wait()
	if !errors.Is(cancelledErr, context.Canceled) {
		t.Errorf("cancelled command: err = %v, want context.Canceled", cancelledErr)
	}
	if otherErr != nil || string(out) != "other\n" {
		t.Errorf("other command: %q, %v", out, otherErr)
	}
}
