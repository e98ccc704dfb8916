package history

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Kind is the kind of an operation.
type Kind uint8

const (
	Put Kind = iota + 1
	Get
)

func (k Kind) String() string {
	switch k {
	case Put:
		return "put"
	case Get:
		return "get"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Op is one recorded operation.
//
//   - Put: Value is the (unique) value written; Err is empty when etcd
//     acknowledged the write, otherwise the outcome is unknown.
//   - Get: Value is what the read returned, "" when the key did not exist;
//     a get with Err set is left out of the check.
//
// Call and Return are nanoseconds on a monotonic clock (since the
// recorder started); Return is 0 only while the operation runs.
type Op struct {
	Client       int
	Kind         Kind
	Key          string
	Value        string
	Err          string
	Call, Return int64
}

// Unknown reports whether the operation's outcome is unknown (it failed).
func (o Op) Unknown() bool { return o.Err != "" }

// Options shape the load. Zero values take the defaults.
type Options struct {
	Clients   int           // concurrent clients; default 6
	Keys      int           // keys written and read; default 4
	Prefix    string        // key prefix; default "/history/"
	Rate      float64       // target operations per second over all clients; default 200
	PutRatio  float64       // share of puts among the operations; default 0.5
	OpTimeout time.Duration // per operation; default 5s
	// CheckTimeout bounds the linearizability check; default 30s. A check
	// that runs out of time is a failed verification, not a pass.
	CheckTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Clients <= 0 {
		o.Clients = 6
	}
	if o.Keys <= 0 {
		o.Keys = 4
	}
	if o.Prefix == "" {
		o.Prefix = "/history/"
	}
	if o.Rate <= 0 {
		o.Rate = 200
	}
	if o.PutRatio <= 0 || o.PutRatio > 1 {
		o.PutRatio = 0.5
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 5 * time.Second
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 30 * time.Second
	}
	return o
}

// Dial makes client i's etcd client. Give every client all the client
// endpoints, as Kubernetes API servers have them; the client balances
// its requests over them.
type Dial func(i int) (*clientv3.Client, error)

// Recorder runs the clients and records their operations.
type Recorder struct {
	opts    Options
	start   time.Time
	clients []*recClient

	mu      sync.Mutex
	stop    chan struct{}
	wg      sync.WaitGroup
	running bool
	stopped bool
	ops     []Op
	done    atomic.Int64 // operations returned
	acked   atomic.Int64 // puts acknowledged
}

type recClient struct {
	id  int
	cli *clientv3.Client
	rnd *rand.Rand
	seq int
	ops []Op
}

// Start dials opts.Clients clients and starts them. The recorder closes
// the clients when it stops.
func Start(dial Dial, opts Options) (*Recorder, error) {
	opts = opts.withDefaults()
	r := &Recorder{opts: opts, start: time.Now()}
	for i := range opts.Clients {
		c, err := dial(i)
		if err != nil {
			r.closeClients()
			return nil, fmt.Errorf("history: dialing client %d: %w", i, err)
		}
		seed := uint64(time.Now().UnixNano())
		r.clients = append(r.clients, &recClient{id: i, cli: c, rnd: rand.New(rand.NewPCG(seed, uint64(i)))})
	}
	r.Resume()
	return r, nil
}

// Record is Start for a test: it fails the test if a client cannot be
// made, and stops the recorder when the test ends (without checking; call
// Verify for that).
func Record(t testing.TB, dial Dial, opts Options) *Recorder {
	t.Helper()
	r, err := Start(dial, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop() })
	return r
}

// now is the monotonic time since the recorder started, in nanoseconds.
func (r *Recorder) now() int64 { return time.Since(r.start).Nanoseconds() }

// Pause stops issuing operations and waits until every operation in
// flight has returned. Resume starts the clients again.
func (r *Recorder) Pause() {
	r.mu.Lock()
	if !r.running {
		r.mu.Unlock()
		return
	}
	r.running = false
	close(r.stop)
	r.mu.Unlock()
	r.wg.Wait()
}

// Resume starts the clients again after Pause.
func (r *Recorder) Resume() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running || r.stopped {
		return
	}
	r.running = true
	r.stop = make(chan struct{})
	interval := time.Duration(float64(time.Second) * float64(r.opts.Clients) / r.opts.Rate)
	for _, c := range r.clients {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.run(c, r.stop, interval)
		}()
	}
}

// run issues operations at one per interval (at most) until stop closes.
func (r *Recorder) run(c *recClient, stop <-chan struct{}, interval time.Duration) {
	tick := time.NewTicker(interval) // pacing of the load, not synchronisation
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		key := fmt.Sprintf("%sk%d", r.opts.Prefix, c.rnd.IntN(r.opts.Keys))
		var op Op
		if c.rnd.Float64() < r.opts.PutRatio {
			c.seq++
			op = r.put(c.cli, c.id, key, fmt.Sprintf("c%d-%d", c.id, c.seq))
			if !op.Unknown() {
				r.acked.Add(1)
			}
		} else {
			op = r.get(c.cli, c.id, key)
		}
		c.ops = append(c.ops, op)
		r.done.Add(1)
	}
}

func (r *Recorder) put(cli *clientv3.Client, id int, key, value string) Op {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.OpTimeout)
	defer cancel()
	op := Op{Client: id, Kind: Put, Key: key, Value: value, Call: r.now()}
	_, err := cli.Put(ctx, key, value)
	op.Return = r.now()
	if err != nil {
		op.Err = err.Error()
	}
	return op
}

func (r *Recorder) get(cli *clientv3.Client, id int, key string) Op {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.OpTimeout)
	defer cancel()
	op := Op{Client: id, Kind: Get, Key: key, Call: r.now()}
	resp, err := cli.Get(ctx, key) // linearizable: the client's default
	op.Return = r.now()
	switch {
	case err != nil:
		op.Err = err.Error()
	case len(resp.Kvs) > 0:
		op.Value = string(resp.Kvs[0].Value)
	}
	return op
}

// Progress returns how many operations have returned so far and how many
// puts were acknowledged, for a test that waits until the load runs.
func (r *Recorder) Progress() (ops, ackedPuts int) {
	return int(r.done.Load()), int(r.acked.Load())
}

// Stop stops the clients, reads every key once more (so that a write lost
// at the end shows), closes the clients and returns the history. Later
// calls return the same history.
func (r *Recorder) Stop() []Op {
	r.Pause()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return r.ops
	}
	r.stopped = true
	var ops []Op
	for _, c := range r.clients {
		ops = append(ops, c.ops...)
	}
	// The final reads: each key read by one more client id, retried for a
	// while when the cluster does not answer.
	final := len(r.clients)
	deadline := time.Now().Add(3 * r.opts.OpTimeout)
	if len(r.clients) > 0 {
		for k := range r.opts.Keys {
			key := fmt.Sprintf("%sk%d", r.opts.Prefix, k)
			for {
				op := r.get(r.clients[0].cli, final, key)
				ops = append(ops, op)
				if !op.Unknown() || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond) // back-off between attempts, not synchronisation
			}
		}
	}
	r.closeClients()
	r.ops = ops
	return ops
}

func (r *Recorder) closeClients() {
	for _, c := range r.clients {
		c.cli.Close()
	}
}

// Verify stops the recorder, checks the history and logs one line:
//
//	history: N ops (P puts, G gets, U unknown), linearizable: ok (checked in 12ms)
//
// When the history is not linearizable, or the check runs out of time,
// it writes porcupine's HTML visualisation and the history as JSON to the
// test's artifact directory (under -outputdir with `go test -artifacts`;
// without that flag to a temporary directory that is kept), logs where,
// and fails the test.
func (r *Recorder) Verify(t testing.TB) Result {
	t.Helper()
	return verify(t, r.Stop(), r.opts.CheckTimeout)
}

func verify(t testing.TB, ops []Op, timeout time.Duration) Result {
	t.Helper()
	res := Check(ops, timeout)
	t.Log(res.String())
	if res.Verdict == Ok {
		return res
	}
	dir, err := artifactDir(t)
	if err == nil {
		var path string
		if path, err = res.WriteVisualization(dir); err == nil {
			err = writeJSON(filepath.Join(dir, "history.json"), ops)
			t.Logf("history: visualisation in %s, operations in %s", path, filepath.Join(dir, "history.json"))
		}
	}
	if err != nil {
		t.Errorf("history: writing the visualisation: %v", err)
	}
	t.Errorf("history: the recorded history is %s", res.Verdict)
	return res
}

// artifactDir is t.ArtifactDir() under `go test -artifacts`; otherwise
// ArtifactDir is removed with the test, so a temporary directory that
// stays is made instead.
func artifactDir(t testing.TB) (string, error) {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir(), nil
	}
	return os.MkdirTemp("", "etcdform-history-")
}

func writeJSON(path string, ops []Op) error {
	data, err := json.MarshalIndent(ops, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
