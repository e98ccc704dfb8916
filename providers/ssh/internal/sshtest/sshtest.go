// Package sshtest starts real OpenSSH servers on 127.0.0.1 for tests, with
// freshly generated host and client keys. Tests using it are skipped
// unless they run as root on a machine with /usr/sbin/sshd.
package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the server binary used.
const SSHD = "/usr/sbin/sshd"

// startTimeout bounds the wait for sshd to listen.
const startTimeout = 10 * time.Second

// Key is a generated ed25519 key pair.
type Key struct {
	File   string // the private key, OpenSSH PEM, mode 0600
	Public ssh.PublicKey
}

// NewKey generates a key and writes its private half into a temp dir.
func NewKey(t testing.TB) *Key {
	t.Helper()
	file := filepath.Join(t.TempDir(), "id_ed25519")
	pub, err := writeKey(file)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{File: file, Public: pub}
}

func writeKey(file string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "etcdform test key")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}

// Options configure a Server.
type Options struct {
	// AuthorizedKeys may log in as root.
	AuthorizedKeys []ssh.PublicKey
	// AllowTCPForwarding makes the server usable as a jump host.
	AllowTCPForwarding bool
}

// Server is a running sshd.
type Server struct {
	Host    string // always 127.0.0.1
	Port    int
	HostKey ssh.PublicKey
	Dir     string // holds its config, keys and pid file
	pid     int    // the listening sshd
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// KnownHostsLine is the known_hosts line for this server's key.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey)
}

// WriteKnownHosts writes a known_hosts file of lines into a temp dir and
// returns its path.
func WriteKnownHosts(t testing.TB, lines ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// Skip skips t unless real servers can be started here, and under
// `go test -short`.
func Skip(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: starts a real sshd")
	}
	if os.Geteuid() != 0 {
		t.Skip("sshtest: needs root to run a real sshd that accepts root logins")
	}
	if _, err := os.Stat(SSHD); err != nil {
		t.Skipf("sshtest: %s not installed (Debian package openssh-server)", SSHD)
	}
}

// Start runs `sshd -D -e` on a free port of 127.0.0.1 and waits until it
// listens. It is killed when the test ends; its log is shown if the test
// failed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Skip(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	hostKey, err := writeKey(hostKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var auth bytes.Buffer
	for _, k := range opts.AuthorizedKeys {
		auth.Write(ssh.MarshalAuthorizedKey(k))
	}
	authFile := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authFile, auth.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	forwarding := "no"
	if opts.AllowTCPForwarding {
		forwarding = "yes"
	}
	// The port is picked by the kernel then released; if another process
	// takes it before sshd binds, sshd exits and we try another.
	var errs []error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{Host: "127.0.0.1", Port: port, HostKey: hostKey, Dir: dir}
		config := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(config, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding %s
LogLevel VERBOSE
# The login shell must not read the test machine's ~/.bashrc (Debian's bash
# reads it for a command from sshd at SHLVL < 2): root's there runs
# "pyenv init", whose rehash holds a lock file that a session killed by a
# test leaves behind, and every later session then waited 60 s for it.
SetEnv SHLVL=1
`, port, hostKeyFile, filepath.Join(dir, "sshd.pid"), authFile, forwarding)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.run(t, config); err != nil {
			errs = append(errs, err)
			continue
		}
		return s
	}
	t.Fatalf("sshtest: could not start sshd: %v", errors.Join(errs...))
	return nil
}

func (s *Server) run(t testing.TB, config string) error {
	log := new(syncBuffer)
	cmd := exec.Command(SSHD, "-D", "-e", "-f", config)
	cmd.Stdout, cmd.Stderr = log, log
	// The connection processes inherit the log pipe; Wait must not wait
	// on one that outlives the listener.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	s.pid = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// kill ends the listener and every process below it: the connection
	// processes would otherwise live as long as their clients (or forever,
	// when frozen), holding the log pipe open.
	kill := func() {
		pids := descendants(s.pid)
		_ = cmd.Process.Kill()
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-exited
	}
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("sshd on port %d exited (%v): %s", s.Port, err, log.String())
		case <-deadline.C:
			kill()
			return fmt.Errorf("sshd on port %d not listening after %s: %s", s.Port, startTimeout, log.String())
		case <-poll.C:
		}
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("sshd %s log:\n%s", s.Addr(), log.String())
		}
	})
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Freeze stops (SIGSTOP) the processes serving the server's open
// connections, not the listener: to a connected client the host has gone
// silent mid-connection, as behind a partition, with its TCP connection
// still open. Thaw, or the test's end, lets them go on.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	// Registered first: a Fatal below must not leave stopped processes
	// behind, which would hold the server's log pipe open and its cleanup
	// waiting forever (CI hung 40 minutes on it).
	t.Cleanup(func() { s.Thaw() })
	pids := descendants(s.pid)
	stopped := 0
	for _, pid := range pids {
		// A process may have exited since it was listed (sshd's
		// pre-authentication child does, once the login is done).
		err := syscall.Kill(pid, syscall.SIGSTOP)
		switch {
		case err == nil:
			stopped++
		case !errors.Is(err, syscall.ESRCH):
			t.Fatalf("sshtest: Freeze: %v", err)
		}
	}
	if stopped == 0 {
		t.Fatal("sshtest: Freeze: the server has no connection")
	}
}

// Thaw resumes what Freeze stopped.
func (s *Server) Thaw() {
	for _, pid := range descendants(s.pid) {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces.
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
		queue = queue[1:]
	}
	return out
}
