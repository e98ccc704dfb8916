// Package e2e runs the real etcdform binary against real labs: real etcd
// processes supervised by runit, reached over real SSH in network
// namespaces. TestMain builds the binary once.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

var binary string

func TestMain(m *testing.M) {
	labtest.ExitIfShort("e2e")
	path, cleanup, err := labtest.BuildBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// cli runs the etcdform binary.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running etcdform: %v", err)
	}
	t.Logf("$ etcdform %s  => exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
	return o.String(), e.String(), code
}

// config writes lab.hcl, edited by edit, to a fresh configuration dir
// with absolute key paths.
func config(t *testing.T, st *lab.State, edit func(string) string) string {
	t.Helper()
	if edit == nil {
		return labtest.ConfigDir(t, st)
	}
	return labtest.ConfigDir(t, st, edit)
}

// withStorage adds a storage block to the cluster.
var withStorage = labtest.WithStorage

// withMembers adds members etcd-4, etcd-5... on the lab's spare hosts;
// withoutMembers drops the named member blocks.
var (
	withMembers    = labtest.WithMembers
	withoutMembers = labtest.WithoutMembers
)

func etcdClient(t *testing.T, st *lab.State) *clientv3.Client {
	t.Helper()
	var eps []string
	for _, h := range st.Hosts {
		eps = append(eps, h.ClientURL())
	}
	tlsCfg, err := st.ClientTLS() // nil for a plain lab
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 3 * time.Second, TLS: tlsCfg, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// memberList returns the cluster's live member list.
func memberList(t *testing.T, st *lab.State) []*etcdserverpb.Member {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ml, err := etcdClient(t, st).MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ml.Members
}

// leaderName returns the name of the member that leads now.
func leaderName(t *testing.T, st *lab.State) string {
	t.Helper()
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var name string
	labtest.Eventually(t, 10*time.Second, func() error {
		ml, err := c.MemberList(ctx)
		if err != nil {
			return err
		}
		for _, h := range st.Members() {
			s, err := c.Status(ctx, h.ClientURL())
			if err != nil || s.Leader == 0 {
				continue
			}
			for _, m := range ml.Members {
				if m.ID == s.Leader {
					name = m.Name
					return nil
				}
			}
		}
		return fmt.Errorf("no leader")
	})
	return name
}

type planJSON struct {
	Changes    bool `json:"changes"`
	Applicable bool `json:"applicable"`
	Steps      []struct {
		Action    string `json:"action"`
		Member    string `json:"member"`
		Leader    bool   `json:"leader"`
		Voters    int    `json:"voters"`
		Tolerated int    `json:"tolerated"`
		Reason    string `json:"reason"`
		Changes   []struct {
			Attr   string `json:"attr"`
			Before string `json:"before"`
			After  string `json:"after"`
		} `json:"changes"`
	} `json:"steps"`
	Warnings []message `json:"warnings"`
	Refusals []message `json:"refusals"`
}

type message struct {
	Member  string `json:"member"`
	Summary string `json:"summary"`
	Detail  string `json:"detail"`
}

func planAsJSON(t *testing.T, dir string) (planJSON, int) {
	t.Helper()
	out, _, code := cli(t, "plan", "--json", "--detailed-exitcode", dir)
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json output is not JSON: %v\n%s", err, out)
	}
	return p, code
}

// actions lists "action member" per step.
func actions(p planJSON) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, strings.TrimSpace(s.Action+" "+s.Member))
	}
	return out
}

// writer writes unique keys as fast as one client can, recording every
// acknowledged key, until stopped.
type writer struct {
	cli    *clientv3.Client
	acked  []string
	failed atomic.Int64
	mu     sync.Mutex
	maxLat time.Duration
	loop
}

// rateMark is a point in a writer's run: when, and how many writes it had
// acknowledged by then.
type rateMark struct {
	at    time.Time
	acked int
}

// mark is the writer's count of acknowledged writes now.
func (w *writer) mark() rateMark {
	w.mu.Lock()
	defer w.mu.Unlock()
	return rateMark{time.Now(), len(w.acked)}
}

// checkRate fails the test when the writer acknowledged fewer than 100
// writes a second since m: a test of lost writes under load needs the
// load. It logs the rate with what (e.g. "apply took 3s").
func (w *writer) checkRate(t *testing.T, m rateMark, what string) {
	t.Helper()
	now := w.mark()
	rate := float64(now.acked-m.acked) / now.at.Sub(m.at).Seconds()
	t.Logf("%s; the writer sustained %.0f acked writes/s", what, rate)
	if rate < 100 {
		t.Errorf("the writer managed only %.0f writes/s; the test needs at least 100/s to mean something", rate)
	}
}

func startWriter(t *testing.T, st *lab.State) *writer {
	return startWriterOn(t, etcdClient(t, st))
}

// startWriterOn is startWriter with a given client.
func startWriterOn(t *testing.T, cli *clientv3.Client) *writer {
	w := &writer{cli: cli, loop: newLoop()}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			key := fmt.Sprintf("/load/%08d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			t0 := time.Now()
			_, err := w.cli.Put(ctx, key, "v")
			lat := time.Since(t0)
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, key)
				if lat > w.maxLat {
					w.maxLat = lat
				}
			} else {
				w.failed.Add(1)
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.halt)
	return w
}

// waitAcked waits until the writer has n acknowledged writes.
func (w *writer) waitAcked(t *testing.T, n int) {
	t.Helper()
	labtest.Eventually(t, 10*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.acked) < n {
			return fmt.Errorf("writer has %d acknowledged writes", len(w.acked))
		}
		return nil
	})
}

// loop is a background goroutine a test stops and waits for: the
// goroutine closes done when it sees stop closed.
type loop struct {
	stop chan struct{}
	done chan struct{}
}

func newLoop() loop { return loop{stop: make(chan struct{}), done: make(chan struct{})} }

// halt stops the goroutine and waits for it; it may be called again.
func (l loop) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// missing counts the keys (under /load/) that cli does not find, and
// returns the revision it read at.
func missing(t *testing.T, cli *clientv3.Client, keys []string) (lost int, rev int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "/load/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	for _, k := range keys {
		if !have[k] {
			lost++
		}
	}
	return lost, resp.Header.Revision
}

// verify checks that every acknowledged write is readable.
func (w *writer) verify(t *testing.T) {
	t.Helper()
	w.halt()
	lost, _ := missing(t, w.cli, w.acked)
	t.Logf("writes: %d acknowledged, %d failed (retried by the client or refused), %d lost, max latency %s", len(w.acked), w.failed.Load(), lost, w.maxLat)
	if lost != 0 {
		t.Fatalf("%d acknowledged writes are lost", lost)
	}
}
