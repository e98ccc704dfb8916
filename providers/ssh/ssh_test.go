package ssh_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

// host is one running sshd with a key allowed in and a known_hosts
// file that knows it.
type host struct {
	srv *sshtest.Server
	key *sshtest.Key
	cfg sshp.Config
}

func newHost(t *testing.T, opts sshtest.Options) host {
	t.Helper()
	key := sshtest.NewKey(t)
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, key.Public)
	srv := sshtest.Start(t, opts)
	return host{srv: srv, key: key, cfg: sshp.Config{
		Host: srv.Host, Port: srv.Port, User: "root",
		PrivateKeyFile: key.File,
		KnownHostsFile: sshtest.WriteKnownHosts(t, srv.KnownHostsLine()),
		Timeout:        10 * time.Second,
	}}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, cfg sshp.Config) *sshp.Client {
	t.Helper()
	c, err := sshp.Dial(ctxFor(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRun(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	type result struct {
		Stdout, Stderr string
		Code           int
	}
	tests := map[string]struct {
		cmd   string
		stdin string
		want  result
	}{
		"echo":       {cmd: "echo hello", want: result{Stdout: "hello\n"}},
		"exit code":  {cmd: "exit 3", want: result{Code: 3}},
		"stderr":     {cmd: "echo oops >&2; exit 1", want: result{Stderr: "oops\n", Code: 1}},
		"is root":    {cmd: "id -u", want: result{Stdout: "0\n"}},
		"stdin":      {cmd: "tr a-z A-Z", stdin: "etcd\n", want: result{Stdout: "ETCD\n"}},
		"not found":  {cmd: "no-such-command-etcdform", want: result{Stderr: "sh: 1: no-such-command-etcdform: not found\n", Code: 127}},
		"quoted arg": {cmd: "printf %s " + sshp.Quote("it's $HOME"), want: result{Stdout: "it's $HOME"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errb []byte
			var code int
			var err error
			if tc.stdin != "" {
				out, errb, code, err = c.RunStdin(ctxFor(t), tc.cmd, strings.NewReader(tc.stdin))
			} else {
				out, errb, code, err = c.Run(ctxFor(t), tc.cmd)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := result{string(out), string(errb), code}
			if name == "not found" { // the login shell's wording varies
				got.Stderr = strings.Replace(got.Stderr, "bash: line 1:", "sh: 1:", 1)
				got.Stderr = strings.Replace(got.Stderr, "command not found", "not found", 1)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Cancel once the command is surely running.
	go func() {
		defer cancel()
		waitFor(t, func() bool { b, _ := os.ReadFile(pidFile); return bytes.HasSuffix(b, []byte("\n")) })
	}()
	// The command waits on its stdin, which we never close: only the
	// cancellation can end it.
	stdin, w := io.Pipe()
	defer w.Close()
	_, _, _, err := c.RunStdin(ctx, "echo $$ > "+pidFile+"; exec cat >/dev/null", stdin)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), c.Addr()) {
		t.Errorf("error %q does not name %s", err, c.Addr())
	}
	// The remote command is killed...
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH })
	// ...and the connection is still usable.
	if out, _, _, err := c.Run(ctxFor(t), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("after cancel: %q, %v", out, err)
	}
}

// TestRunGivesUpOnASilentHost: a host that stops answering mid-connection
// (a partition; here its sshd processes are frozen, the TCP connection
// stays open) must not hold a command past its context. x/crypto/ssh
// waits for the server's answer to a session open and to the exec request
// without a deadline: an apply whose leader was partitioned during
// MoveLeader hung there for minutes (TestFaultLeaderPartitionedDuringMoveLeader).
// The host lock's command is bounded the same way.
func TestRunGivesUpOnASilentHost(t *testing.T) {
	t.Parallel()
	h := newHost(t, sshtest.Options{})
	c := dial(t, h.cfg)
	h.srv.Freeze(t)
	for name, run := range map[string]func(ctx context.Context) error{
		"run": func(ctx context.Context) error {
			_, _, _, err := c.Run(ctx, "true")
			return err
		},
		"lock": func(ctx context.Context) error {
			_, err := c.Lock(ctx, filepath.Join(t.TempDir(), "lock"), "test")
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- run(ctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), c.Addr()) {
				t.Errorf("%s on a silent host: %v, want the deadline, naming %s", name, err, c.Addr())
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s on a silent host still waits a minute after its 500ms deadline", name)
		}
		cancel()
	}
	// Once the host answers again, the connection works.
	h.srv.Thaw()
	if out, _, _, err := c.Run(ctxFor(t), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("after the host answers again: %q, %v", out, err)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Error("condition not met within 10s")
			return
		case <-tick.C:
		}
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	h := newHost(t, sshtest.Options{})
	other := sshtest.Start(t, sshtest.Options{}) // a second host, with its own key
	wrongKey := sshtest.NewKey(t)

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	// known_hosts lines: our host under another host's key (mismatch), and
	// only another host (unknown).
	mismatch := knownhosts.Line([]string{knownhosts.Normalize(h.srv.Addr())}, other.HostKey)

	tests := map[string]struct {
		edit     func(*sshp.Config)
		want     error
		contains []string
	}{
		"host key mismatch": {
			edit:     func(c *sshp.Config) { c.KnownHostsFile = sshtest.WriteKnownHosts(t, mismatch) },
			want:     sshp.ErrHostKeyMismatch,
			contains: []string{h.srv.Addr(), "ssh-keygen -R '[127.0.0.1]:", "ssh-keyscan -p"},
		},
		"unknown host": {
			edit:     func(c *sshp.Config) { c.KnownHostsFile = sshtest.WriteKnownHosts(t, other.KnownHostsLine()) },
			want:     sshp.ErrUnknownHost,
			contains: []string{h.srv.Addr(), "ssh-keyscan -p"},
		},
		"empty known_hosts": {
			edit:     func(c *sshp.Config) { c.KnownHostsFile = sshtest.WriteKnownHosts(t) },
			want:     sshp.ErrUnknownHost,
			contains: []string{h.srv.Addr()},
		},
		"key not authorized": {
			edit:     func(c *sshp.Config) { c.PrivateKeyFile = wrongKey.File },
			want:     sshp.ErrAuth,
			contains: []string{h.srv.Addr(), `"root"`},
		},
		"key readable by others": {
			edit: func(c *sshp.Config) {
				c.PrivateKeyFile = filepath.Join(t.TempDir(), "id_open")
				b, err := os.ReadFile(h.cfg.PrivateKeyFile)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(c.PrivateKeyFile, b, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(c.PrivateKeyFile, 0o666); err != nil {
					t.Fatal(err)
				}
			},
			want:     sshp.ErrKeyPermissions,
			contains: []string{"private_key_file", "id_open has mode 0666", "chmod 600"},
		},
		"unreachable": {
			edit:     func(c *sshp.Config) { c.Port = closedPort },
			want:     sshp.ErrUnreachable,
			contains: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(closedPort)), "connection refused"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := h.cfg
			tc.edit(&cfg)
			c, err := sshp.Dial(ctxFor(t), cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, s := range []error{sshp.ErrHostKeyMismatch, sshp.ErrUnknownHost, sshp.ErrAuth, sshp.ErrUnreachable, sshp.ErrKeyPermissions} {
				if s != tc.want && errors.Is(err, s) {
					t.Errorf("err is also %v: %v", s, err)
				}
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestDialRespectsContext(t *testing.T) {
	t.Parallel()
	// A server that accepts and never speaks: only ctx can end the dial.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	h := newHost(t, sshtest.Options{})
	cfg := h.cfg
	cfg.Port = l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = sshp.Dial(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q does not name %s", err, l.Addr())
	}
}

func TestBastion(t *testing.T) {
	t.Parallel()
	key := sshtest.NewKey(t)
	jump := sshtest.Start(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}, AllowTCPForwarding: true})
	noForward := sshtest.Start(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	target := sshtest.Start(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	known := sshtest.WriteKnownHosts(t, jump.KnownHostsLine(), noForward.KnownHostsLine(), target.KnownHostsLine())
	cfgFor := func(b *sshtest.Server) sshp.Config {
		return sshp.Config{
			Host: target.Host, Port: target.Port, User: "root", PrivateKeyFile: key.File, KnownHostsFile: known,
			Bastion: &sshp.Config{Host: b.Host, Port: b.Port}, // the rest is inherited
		}
	}

	c := dial(t, cfgFor(jump))
	out, _, code, err := c.Run(ctxFor(t), "echo through")
	if err != nil || code != 0 || string(out) != "through\n" {
		t.Fatalf("Run through jump host: %q, %d, %v", out, code, err)
	}

	// A jump host that refuses forwarding proves the tunnel is used.
	_, err = sshp.Dial(ctxFor(t), cfgFor(noForward))
	if err == nil {
		t.Fatal("Dial through a jump host without forwarding succeeded")
	}
	for _, s := range []string{target.Addr(), "via jump host " + noForward.Addr(), "prohibited"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if !errors.Is(err, sshp.ErrUnreachable) {
		t.Errorf("err = %v, want ErrUnreachable", err)
	}

	// The jump host's key is checked too.
	cfg := cfgFor(jump)
	cfg.KnownHostsFile = sshtest.WriteKnownHosts(t, target.KnownHostsLine())
	_, err = sshp.Dial(ctxFor(t), cfg)
	if !errors.Is(err, sshp.ErrUnknownHost) || !strings.Contains(err.Error(), jump.Addr()) {
		t.Errorf("unknown jump host: err = %v, want ErrUnknownHost naming %s", err, jump.Addr())
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	file := filepath.Join(dir, "it's a file")
	content := []byte("line 1\n\x00binary\xff no newline")
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadFile(ctxFor(t), file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("ReadFile = %q, want %q", got, content)
	}

	_, err = c.ReadFile(ctxFor(t), filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), c.Addr()) {
		t.Errorf("error %q does not name %s", err, c.Addr())
	}

	_, err = c.ReadFile(ctxFor(t), dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "Is a directory") {
		t.Errorf("reading a directory: err = %v", err)
	}

	sum, err := c.Sha256File(ctxFor(t), file)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(content)); sum != want {
		t.Errorf("Sha256File = %q, want %q", sum, want)
	}
	if _, err := c.Sha256File(ctxFor(t), filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Sha256File of a missing file: err = %v, want fs.ErrNotExist", err)
	}
}
