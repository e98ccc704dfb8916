// Package labtest starts a lab for an e2e test and tears it down when the
// test ends. Tests that need a lab call Up; where the lab cannot run (not
// root, tools missing) the test is skipped, unless ETCDFORM_E2E=required
// (set by `make test` and CI), in which case it fails. Under `go test
// -short` every lab test is skipped (SkipShort, ExitIfShort).
package labtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
)

// SkipShort skips a test that starts labs or other real processes when
// `go test -short` asks for the unit tests only (`make test-short`).
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: starts a lab or other real processes")
	}
}

// ExitIfShort ends a TestMain whose package holds only tests that start
// labs or real binaries, before it builds anything, under -short.
func ExitIfShort(pkg string) {
	flag.Parse()
	if testing.Short() {
		fmt.Printf("skipping the %s tests with -short: they start labs and real binaries\n", pkg)
		os.Exit(0)
	}
}

// Up brings up a lab in a fresh temporary directory; under -short it skips
// the test.
func Up(t testing.TB, opts lab.Options) *lab.State {
	t.Helper()
	SkipShort(t)
	if err := lab.PreflightInit(opts.Init); err != nil {
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
	EventuallyEvery(t, timeout, 50*time.Millisecond, cond)
}

// EventuallyEvery is Eventually polling every interval: a test that must
// act within moments of the condition (a fault injected between two
// steps of an apply) polls faster than Eventually's 50 ms.
func EventuallyEvery(t testing.TB, timeout, interval time.Duration, cond func() error) {
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
		time.Sleep(interval) // poll interval, not synchronisation
	}
}

// BuildBinary builds the etcdform binary into a temporary directory, for
// the TestMain of e2e tests and benchmarks. cleanup removes it.
func BuildBinary() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "etcdform-bin-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "etcdform")
	if out, err := exec.Command("go", "build", "-o", path, "github.com/etcdform/etcdform/cmd/etcdform").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building etcdform: %v\n%s", err, out)
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// ConfigDir writes the lab's lab.hcl, with absolute key paths and each edit
// applied in turn, into a fresh configuration directory.
func ConfigDir(t testing.TB, st *lab.State, edits ...func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(ClusterHCL(t, st, edits...)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ClusterHCL is the lab's lab.hcl with absolute key paths and each edit
// applied in turn (what ConfigDir writes).
func ClusterHCL(t testing.TB, st *lab.State, edits ...func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(st.HCLFile())
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), `"id_ed25519"`, fmt.Sprintf("%q", st.KeyFile()))
	s = strings.ReplaceAll(s, `"known_hosts"`, fmt.Sprintf("%q", st.KnownHostsFile()))
	for _, edit := range edits {
		s = edit(s)
	}
	return s
}

// WithName renames the lab's cluster (several labs in one configuration
// directory, each a cluster of its own).
func WithName(name string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, fmt.Sprintf("cluster %q", lab.ClusterName), fmt.Sprintf("cluster %q", name), 1)
	}
}

// WithStorage adds a storage block with the given quota to the cluster.
func WithStorage(quota string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "  service {", fmt.Sprintf("  storage {\n    quota_backend_bytes = %q\n  }\n\n  service {", quota), 1)
	}
}

// SSHArgs are the arguments of OpenSSH's ssh that run cmd as root on the
// lab host at addr, with the lab's key and strict host-key checking.
func SSHArgs(st *lab.State, addr, cmd string) []string {
	return []string{"-i", st.KeyFile(), "-o", "UserKnownHostsFile=" + st.KnownHostsFile(), "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "root@" + addr, cmd}
}

// SSH runs cmd on host h over OpenSSH's ssh and returns its combined
// output.
func SSH(st *lab.State, h lab.Host, cmd string) (string, error) {
	out, err := exec.Command("ssh", SSHArgs(st, h.Addr, cmd)...).CombinedOutput()
	return string(out), err
}

// WaitEtcdRunLonger waits (up to a minute) until the etcd process on host
// h, as its service manager (runit or systemd) runs it, has run for longer
// than d: for a test whose next step depends on etcd's own age (a config
// written within state.ClockSlack of the start counts as the one it started
// with; a member is refused for etcd's health interval after the start).
func WaitEtcdRunLonger(t testing.TB, st *lab.State, h lab.Host, d time.Duration) {
	t.Helper()
	pid := "cat /etc/service/etcd/supervise/pid"
	if st.Init == lab.InitSystemd {
		pid = "systemctl show -p MainPID --value etcd"
	}
	Eventually(t, time.Minute, func() error {
		out, err := SSH(st, h, "ps -o etimes= -p $("+pid+")")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		var s int
		if _, err := fmt.Sscan(strings.TrimSpace(out), &s); err != nil {
			return fmt.Errorf("etcd run time on %s: %q", h.Name, out)
		}
		if time.Duration(s)*time.Second <= d {
			return fmt.Errorf("etcd on %s has run %d s", h.Name, s)
		}
		return nil
	})
}

// WithMembers adds members etcd-4, etcd-5... on the lab's spare hosts.
func WithMembers(hosts ...lab.Host) func(string) string {
	return func(s string) string {
		var add strings.Builder
		for i, h := range hosts {
			fmt.Fprintf(&add, "\n  member %q {\n    host       = %q\n    peer_url   = %q\n    client_url = %q\n  }\n",
				fmt.Sprintf("etcd-%d", 4+i), h.Addr, h.PeerURL(), h.ClientURL())
		}
		i := strings.LastIndex(s, "}")
		return s[:i] + add.String() + s[i:]
	}
}

// WithoutMembers drops the named member blocks.
func WithoutMembers(names ...string) func(string) string {
	return func(s string) string {
		for _, n := range names {
			re := regexp.MustCompile(`(?s)\n  member "` + regexp.QuoteMeta(n) + `" \{.*?\n  \}\n`)
			s = re.ReplaceAllString(s, "\n")
		}
		return s
	}
}

// SwapBinary puts src in place of dst on a lab host's file system: a copy
// next to dst, then a rename (atomic), as an upgrade's swap or an
// operator's script does. A process running dst keeps its own file.
func SwapBinary(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tmp := dst + ".labtest-new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}
