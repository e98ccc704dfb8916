package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestApplyInterrupted (issue 13 #11): SIGINT during a rolling restart
// stops the apply, and the audit and output say "interrupted", not
// "failed: context canceled".
func TestApplyInterrupted(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	pf := planFile(t, config(t, st, withStorage("3GiB")))
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	cmd := exec.Command(binary, applyArgs(t, "--audit-log", audit, pf)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt while the first restart's step runs.
	restarting := regexp.MustCompile(`step \d+/\d+ restart \S+: (restarting|waiting for health)`)
	var stdout strings.Builder
	sent := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		stdout.WriteString(sc.Text() + "\n")
		if !sent && restarting.MatchString(sc.Text()) {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("apply did not stop after SIGINT")
	}
	t.Logf("apply output:\n%s%s", stdout.String(), stderr.String())
	if !sent {
		t.Fatal("no restart step was seen, so no SIGINT was sent")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("apply after SIGINT: %v, want exit 1", err)
	}
	if !strings.Contains(stdout.String(), "Apply interrupted") || !strings.Contains(stderr.String(), "interrupt signal received") {
		t.Errorf("the output does not say the apply was interrupted by the signal")
	}
	entries := readAudit(t, audit)
	last := entries[len(entries)-1]
	if last.Kind != "apply-end" || last.Outcome != "interrupted: interrupt signal received" {
		t.Errorf("last audit entry %+v, want apply-end interrupted: interrupt signal received", last)
	}
	for _, e := range entries {
		if e.Kind == "step" && e.Outcome != "done" && e.Outcome != "interrupted" {
			t.Errorf("audit step %d (%s %s): outcome %q, want done or interrupted", e.Step, e.Action, e.Member, e.Outcome)
		}
		if strings.Contains(e.Outcome, "failed") {
			t.Errorf("audit entry %+v calls the interruption a failure", e)
		}
	}
}
