// Package etcdtest runs real etcd clusters for tests: one etcd process per
// member on 127.0.0.1 with free ports and temporary data directories, with
// Stop, Kill and Start per member and health waits bounded by deadlines.
// The binary comes from internal/etcdbin at the pinned version.
package etcdtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/etcdbin"
)

// StartTimeout bounds the wait for a started cluster or member to be
// healthy.
const StartTimeout = 30 * time.Second

// Cluster is a set of real etcd processes.
type Cluster struct {
	t       testing.TB
	bin     string
	dir     string
	token   string
	extra   []string // WithArgs
	mu      sync.Mutex
	Members []*Member
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	DataDir   string
	LogPath   string

	c    *Cluster
	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Option tunes NewCluster.
type Option func(*Cluster)

// WithArgs adds etcd flags to every member's command line, e.g.
// "--quota-backend-bytes=16777216" for a cluster that raises NOSPACE soon.
func WithArgs(args ...string) Option {
	return func(c *Cluster) { c.extra = append(c.extra, args...) }
}

// NewCluster starts an n-member cluster and waits until every member
// reports healthy. Processes are killed in t.Cleanup; when the test failed
// their logs' tails are printed.
func NewCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: starts real etcd processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := etcdbin.Ensure(ctx, "", nil)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	c := &Cluster{t: t, bin: bins.Etcd, dir: t.TempDir(), token: fmt.Sprintf("etcdtest-%d-%d", os.Getpid(), time.Now().UnixNano())}
	for _, o := range opts {
		o(c)
	}
	t.Cleanup(c.cleanup)
	ports := freePorts(t, 2*n)
	var initial []string
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i+1),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			c:         c,
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.setArgs(strings.Join(initial, ","), "new")
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	wctx, wcancel := context.WithTimeout(context.Background(), StartTimeout)
	defer wcancel()
	for _, m := range c.Members {
		if err := m.WaitHealthy(wctx); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Endpoints returns every member's client URL.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.ClientURL)
	}
	return eps
}

// Member returns the member named name, or nil.
func (c *Cluster) Member(name string) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// NewJoiner prepares (does not start) a process named name that joins the
// cluster with --initial-cluster-state existing, after it was added with
// the member API. initialCluster is "name=peerURL,..." including itself;
// use JoinInitialCluster to build it.
func (c *Cluster) NewJoiner(name string) *Member {
	ports := freePorts(c.t, 2)
	m := &Member{
		Name:      name,
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		c:         c,
	}
	c.mu.Lock()
	c.Members = append(c.Members, m)
	c.mu.Unlock()
	return m
}

// Join starts a member prepared by NewJoiner with the given
// --initial-cluster (which must name it).
func (m *Member) Join(initialCluster string) error {
	m.setArgs(initialCluster, "existing")
	return m.Start()
}

func (m *Member) setArgs(initialCluster, state string) {
	m.DataDir = filepath.Join(m.c.dir, m.Name+".etcd")
	m.LogPath = filepath.Join(m.c.dir, m.Name+".log")
	m.args = []string{
		"--name=" + m.Name,
		"--data-dir=" + m.DataDir,
		"--listen-client-urls=" + m.ClientURL,
		"--advertise-client-urls=" + m.ClientURL,
		"--listen-peer-urls=" + m.PeerURL,
		"--initial-advertise-peer-urls=" + m.PeerURL,
		"--initial-cluster=" + initialCluster,
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + m.c.token,
		"--heartbeat-interval=50",
		"--election-timeout=500",
		"--unsafe-no-fsync",
		"--log-level=info",
	}
	m.args = append(m.args, m.c.extra...)
}

// Start starts the process (again, after Stop or Kill: the data directory
// is kept, so it rejoins with its state).
func (m *Member) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return fmt.Errorf("etcdtest: %s is already running", m.Name)
	}
	logf, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("etcdtest: %s: %w", m.Name, err)
	}
	cmd := exec.Command(m.c.bin, m.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("etcdtest: starting %s: %w", m.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	m.cmd, m.done = cmd, done
	return nil
}

// Running reports whether the process is running.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil
}

// Kill sends SIGKILL and waits for the process to exit.
func (m *Member) Kill() error { return m.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits (up to 30s) for a graceful exit.
func (m *Member) Stop() error { return m.signal(syscall.SIGTERM, 30*time.Second) }

// Pause stops the process with SIGSTOP: the kernel still accepts
// connections on its ports, and nothing answers them. Resume continues it.
func (m *Member) Pause() error { return m.send(syscall.SIGSTOP) }

// Resume continues a paused process with SIGCONT.
func (m *Member) Resume() error { return m.send(syscall.SIGCONT) }

func (m *Member) send(sig syscall.Signal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return fmt.Errorf("etcdtest: %s is not running", m.Name)
	}
	if err := m.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("etcdtest: signalling %s: %w", m.Name, err)
	}
	return nil
}

func (m *Member) signal(sig syscall.Signal, timeout time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return nil
	}
	if err := m.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("etcdtest: signalling %s: %w", m.Name, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-m.done:
	case <-t.C:
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd, m.done = nil, nil
	return nil
}

// WaitHealthy polls the member's /health until it answers
// {"health":"true"} or ctx ends.
func (m *Member) WaitHealthy(ctx context.Context) error {
	var last error
	for {
		if last = health(ctx, m.ClientURL); last == nil {
			return nil
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("etcdtest: %s at %s not healthy: %w (last: %v)\n%s", m.Name, m.ClientURL, ctx.Err(), last, m.LogTail(20))
		case <-t.C:
		}
	}
}

func health(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return err
	}
	if h.Health != "true" {
		return fmt.Errorf("health %q: %s", h.Health, h.Reason)
	}
	return nil
}

// LogTail returns the last n lines of the member's log.
func (m *Member) LogTail(n int) string {
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *Cluster) cleanup() {
	c.mu.Lock()
	ms := append([]*Member(nil), c.Members...)
	c.mu.Unlock()
	for _, m := range ms {
		_ = m.Kill()
		if c.t.Failed() && m.LogPath != "" {
			c.t.Logf("--- log of %s (%s):\n%s", m.Name, m.ClientURL, m.LogTail(15))
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1, holding every
// listener until all are chosen.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("etcdtest: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
