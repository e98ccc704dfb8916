package ssh_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

type runResult struct {
	Stdout, Stderr string
	Code           int
	Err            bool
}

func runOn(ctx context.Context, c *sshp.Client, cmd string) runResult {
	out, errb, code, err := c.Run(ctx, cmd)
	return runResult{string(out), string(errb), code, err != nil}
}

// runBatched runs each of cmds in its own goroutine of a batch on c.
func runBatched(t *testing.T, c *sshp.Client, cmds []string) ([]runResult, *sshp.Batch) {
	got := make([]runResult, len(cmds))
	b := c.NewBatch()
	for i, cmd := range cmds {
		b.Go(func(cli *sshp.Client) { got[i] = runOn(ctxFor(t), cli, cmd) })
	}
	b.Wait()
	return got, b
}

// TestBatch: commands issued by a batch's goroutines give what each gives
// in a session of its own (output with and without a final newline, NUL
// bytes, stderr, exit statuses, an exit or cd that stays the command's
// own), and independent commands share one session.
func TestBatch(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("a\x00b\n\x00\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmds := []string{
		"echo hello",
		"printf 'no newline'",
		"cat " + bin,
		"echo oops >&2; exit 3",
		"exit 0",
		"cd /; pwd",
		"pwd",
		"printf ''",
		"printf '\\n\\n'",
		"cat", // stdin is empty
		"no-such-command-etcdform",
		sshp.Quote("sh") + " -c " + sshp.Quote("echo $1") + " x 'it''s'",
	}
	want := make([]runResult, len(cmds))
	for i, cmd := range cmds {
		want[i] = runOn(ctxFor(t), c, cmd)
	}
	got, b := runBatched(t, c, cmds)
	for i := range cmds { // the login shell's and sh's wording differ
		if i == 10 {
			want[i].Stderr, got[i].Stderr = "", ""
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batched results differ from each run alone (-alone +batched):\n%s", diff)
	}
	if n := b.Sessions(); n != 1 {
		t.Errorf("%d independent commands took %d sessions, want 1", len(cmds), n)
	}
}

// TestBatchScripts: the methods' scripts, which a batch runs inline (their
// arguments set with set --, in a subshell of the batch's sh, no sh -c of
// their own), give what each gives alone: $0, $# and $@ with quotes and
// empty arguments, shift, exit, exec, a variable, function or cd that
// stays the script's own, stdin empty; and they share one session.
func TestBatchScripts(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	type script struct {
		body string
		args []string
	}
	scripts := []script{
		{`echo "$0 $#"; for a; do printf '[%s]' "$a"; done; echo`, []string{"a b", "", "it's", "$HOME", "*"}},
		{`x=set; f() { echo f; }; cd /; shift; echo "$1"; exit 4`, []string{"one", "two"}},
		{`echo "${x-unset}"; command -v f || echo no-f; pwd`, nil},
		{`cat; exec echo exec'd "$@"`, []string{"z"}},
		{`echo err >&2; [ -e "$1" ] || exit 3`, []string{"/nonexistent/etcdform"}},
	}
	want := make([]runResult, len(scripts))
	for i, s := range scripts {
		out, errb, code, err := c.Script(ctxFor(t), s.body, s.args...)
		want[i] = runResult{string(out), string(errb), code, err != nil}
	}
	got := make([]runResult, len(scripts))
	b := c.NewBatch()
	for i, s := range scripts {
		b.Go(func(cli *sshp.Client) {
			out, errb, code, err := cli.Script(ctxFor(t), s.body, s.args...)
			got[i] = runResult{string(out), string(errb), code, err != nil}
		})
	}
	b.Wait()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batched scripts differ from each run alone (-alone +batched):\n%s", diff)
	}
	if want[0].Stdout != "etcdform 5\n[a b][][it's][$HOME][*]\n" || want[1].Code != 4 || want[2].Stdout == "" {
		t.Errorf("the scripts alone gave %+v", want)
	}
	if n := b.Sessions(); n != 1 {
		t.Errorf("%d scripts took %d sessions, want 1", len(scripts), n)
	}
	// Inline, not in a shell of their own: every subshell of the batch
	// has the batch's sh's $$.
	pids := make([]string, 2)
	b = c.NewBatch()
	for i := range pids {
		b.Go(func(cli *sshp.Client) {
			out, _, _, _ := cli.Script(ctxFor(t), `echo $$`)
			pids[i] = string(out)
		})
	}
	b.Wait()
	if pids[0] == "" || pids[0] != pids[1] {
		t.Errorf("batched scripts ran in shells %q and %q, want both in the batch's", pids[0], pids[1])
	}
}

// TestBatchDependentReads: a goroutine's second command, issued after its
// first one's answer, runs in the next session, together with every other
// goroutine's second command; a goroutine with no command holds nothing up.
func TestBatchDependentReads(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	b := c.NewBatch()
	var mu sync.Mutex
	var got []string
	for _, first := range []string{"a", "b", "c"} {
		b.Go(func(cli *sshp.Client) {
			out, _, _, err := cli.Run(ctxFor(t), "echo "+first)
			if err != nil {
				t.Error(err)
				return
			}
			out2, _, _, err := cli.Run(ctxFor(t), "echo "+string(out[:1])+"2")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, string(out2))
			mu.Unlock()
		})
	}
	b.Go(func(*sshp.Client) {})
	b.Wait()
	if len(got) != 3 {
		t.Fatalf("got %q", got)
	}
	if n := b.Sessions(); n != 2 {
		t.Errorf("two rounds of three commands took %d sessions, want 2", n)
	}
}

// TestBatchFallsBack: a batch whose framing does not come back (here a
// command kills the batch's shell) runs each command again alone, so each
// gets what it would have got alone.
func TestBatchFallsBack(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	cmds := []string{"echo one", "kill -9 $$; sleep 1; echo survived", "echo three >&2; exit 4"}
	want := []runResult{{Stdout: "one\n"}, {Code: -1, Err: true}, {Stderr: "three\n", Code: 4}}
	got, b := runBatched(t, c, cmds)
	// Alone, the second command kills its own session's shell: an error.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := b.Sessions(); n != 1 {
		t.Errorf("sessions = %d, want 1 batch (then each alone)", n)
	}
}

// TestBatchCancelled: a command whose context ends returns at once with
// the context's error, and the batch goes on for the others.
func TestBatchCancelled(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	b := c.NewBatch()
	var errCancelled error
	var other runResult
	b.Go(func(cli *sshp.Client) { _, _, _, errCancelled = cli.Run(ctx, "echo never") })
	b.Go(func(cli *sshp.Client) { other = runOn(ctxFor(t), cli, "echo fine") })
	b.Wait()
	if !errors.Is(errCancelled, context.Canceled) {
		t.Errorf("cancelled command: err = %v, want context.Canceled", errCancelled)
	}
	if other != (runResult{Stdout: "fine\n"}) {
		t.Errorf("the other command gave %+v", other)
	}
}

// TestBatchCutShort: when the context ends during a session (a command
// hangs), the commands before it, in the order Go started their
// goroutines, keep their results; the hung one and those after it get the
// context's error.
func TestBatchCutShort(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	ctx, cancel := context.WithTimeout(ctxFor(t), 2*time.Second)
	defer cancel()
	cmds := []string{"echo first", "echo second >&2", "sleep 60", "echo after"}
	type result struct {
		out, errb string
		err       error
	}
	got := make([]result, len(cmds))
	b := c.NewBatch()
	for i, cmd := range cmds {
		b.Go(func(cli *sshp.Client) {
			out, errb, _, err := cli.Run(ctx, cmd)
			got[i] = result{string(out), string(errb), err}
		})
	}
	b.Wait()
	if got[0].out != "first\n" || got[0].err != nil || got[1].errb != "second\n" || got[1].err != nil {
		t.Errorf("the commands before the hung one: %+v (%v), %+v (%v); want their output and no error", got[0], got[0].err, got[1], got[1].err)
	}
	for _, r := range got[2:] {
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("the hung command and the one after it: %+v, want the context's error", r)
		}
	}
}
