package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/connect"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/plan/model"
	"github.com/etcdform/etcdform/plan/planfile"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
	"github.com/etcdform/etcdform/schema"
)

// The stall timeline (issue 20). Every client request's start and end and
// every event of the rolling restart are put on one monotonic clock (the
// bench runs apply in-process, with apply.Options.Progress, so its
// milestones are on the same clock as the clients); etcd's own log lines
// are added from their wall-clock timestamps. A gap is a time in which no
// client had a write acknowledged; every gap over stallReportGap is
// printed with the events it overlaps.

// stallReportGap is the shortest gap the timeline prints.
const stallReportGap = 50 * time.Millisecond

// stallGoal is the goal for the longest gap of an etcdform apply.
const stallGoal = 100 * time.Millisecond

// stallSettings are read from the environment, so that `make bench` can
// be run shorter: ETCDFORM_STALL_RUNS (default 20), ETCDFORM_STALL_MEMBERS
// (default "3,5") and ETCDFORM_STALL_VARIANTS (default
// "idle,naive,etcdform,physical").
type stallSettings struct {
	runs     int
	sizes    []int
	variants []string
}

func readStallSettings(b *testing.B) stallSettings {
	s := stallSettings{runs: 20, sizes: []int{3, 5}, variants: []string{"idle", "naive", "etcdform", "physical"}}
	if v := os.Getenv("ETCDFORM_STALL_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("ETCDFORM_STALL_RUNS=%q: want a positive number", v)
		}
		s.runs = n
	}
	if v := os.Getenv("ETCDFORM_STALL_MEMBERS"); v != "" {
		s.sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 3 {
				b.Fatalf("ETCDFORM_STALL_MEMBERS=%q: want member counts of at least 3, comma-separated", v)
			}
			s.sizes = append(s.sizes, n)
		}
	}
	if v := os.Getenv("ETCDFORM_STALL_VARIANTS"); v != "" {
		s.variants = nil
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains([]string{"idle", "naive", "etcdform", "physical"}, f) {
				b.Fatalf("ETCDFORM_STALL_VARIANTS=%q: %q is not idle, naive, etcdform or physical", v, f)
			}
			s.variants = append(s.variants, f)
		}
	}
	return s
}

// timeline is one run's record on one monotonic clock: t0 and offsets from
// it (time.Since reads the monotonic clock).
type timeline struct {
	t0     time.Time
	mu     sync.Mutex
	reqs   []request
	events []tlEvent
}

// request is one client request.
type request struct {
	client     int
	write      bool
	start, end time.Duration
	addr       string // the client URL's host:port the request went to ("" when it was never sent)
	err        string
}

// peerKV is the KV client clientv3 uses (with its retries), recording the
// address each request was sent to, answered or not. One client loop
// uses it at a time.
type peerKV struct {
	etcdserverpb.KVClient
	last peer.Peer
}

func (k *peerKV) Range(ctx context.Context, in *etcdserverpb.RangeRequest, opts ...grpc.CallOption) (*etcdserverpb.RangeResponse, error) {
	k.last = peer.Peer{}
	return k.KVClient.Range(ctx, in, append(opts, grpc.Peer(&k.last))...)
}

func (k *peerKV) Put(ctx context.Context, in *etcdserverpb.PutRequest, opts ...grpc.CallOption) (*etcdserverpb.PutResponse, error) {
	k.last = peer.Peer{}
	return k.KVClient.Put(ctx, in, append(opts, grpc.Peer(&k.last))...)
}

func (k *peerKV) addr() string {
	if k.last.Addr == nil {
		return ""
	}
	return k.last.Addr.String()
}

// tlEvent is one event of the rolling restart, or one line of etcd's log.
type tlEvent struct {
	at   time.Duration
	what string
	log  bool // from etcd's log (wall clock), not from apply or the bench
}

func newTimeline() *timeline { return &timeline{t0: time.Now()} }

func (tl *timeline) now() time.Duration { return time.Since(tl.t0) }

func (tl *timeline) event(format string, args ...any) {
	at := tl.now()
	tl.mu.Lock()
	tl.events = append(tl.events, tlEvent{at: at, what: fmt.Sprintf(format, args...)})
	tl.mu.Unlock()
}

func (tl *timeline) record(r request) {
	tl.mu.Lock()
	tl.reqs = append(tl.reqs, r)
	tl.mu.Unlock()
}

// stallClients is the load: one writer at 200 writes/s and eight clients
// alternating a put and a linearizable get at 25 requests/s each, every
// client with all endpoints (as Kubernetes API servers are configured),
// each its own connection.
type stallClients struct {
	tl      *timeline
	clients []*clientv3.Client
	prefix  string
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   []string
}

func startStallClients(b *testing.B, tl *timeline, eps []string, prefix string) *stallClients {
	sc := &stallClients{tl: tl, prefix: prefix, stop: make(chan struct{})}
	for i := range 9 {
		// Rotate the endpoint list so that the clients do not all start
		// on the first member.
		rot := append(slices.Clone(eps[i%len(eps):]), eps[:i%len(eps)]...)
		c, err := clientv3.New(clientv3.Config{Endpoints: rot, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		sc.clients = append(sc.clients, c)
		period := 40 * time.Millisecond // 25 requests/s
		if i == 0 {
			period = 5 * time.Millisecond // the writer: 200 writes/s
		}
		sc.wg.Add(1)
		go sc.loop(i, c, period)
	}
	return sc
}

func (sc *stallClients) loop(i int, c *clientv3.Client, period time.Duration) {
	defer sc.wg.Done()
	pk := &peerKV{KVClient: clientv3.RetryKVClient(c)}
	kv := clientv3.NewKVFromKVClient(pk, c)
	// Spread the eight clients' ticks over their period, and their writes
	// over every other tick, so that their writes are evenly spaced.
	time.Sleep(time.Duration(i) * period / 8) // by design: a phase offset, not a wait for a condition
	tick := time.NewTicker(period)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-sc.stop:
			return
		case <-tick.C:
		}
		write := i == 0 || (n+i)%2 == 0
		key := fmt.Sprintf("%s/%d/%08d", sc.prefix, i, n)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := request{client: i, write: write, start: sc.tl.now()}
		var err error
		if write {
			_, err = kv.Put(ctx, key, "v")
		} else {
			_, err = kv.Get(ctx, fmt.Sprintf("%s/%d/%08d", sc.prefix, i, n-1)) // linearizable
		}
		r.end = sc.tl.now()
		r.addr = pk.addr()
		cancel()
		if err != nil {
			r.err = err.Error()
		} else if write {
			sc.mu.Lock()
			sc.acked = append(sc.acked, key)
			sc.mu.Unlock()
		}
		sc.tl.record(r)
	}
}

// finish stops the clients and returns the acknowledged writes that a
// read of the prefix does not find.
func (sc *stallClients) finish(b *testing.B) (lost int) {
	close(sc.stop)
	sc.wg.Wait()
	defer func() {
		for _, c := range sc.clients {
			c.Close()
		}
	}()
	lost = lostWrites(b, sc.clients[0], sc.prefix, sc.acked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Keep the keyspace and its history small for the next runs, as a
	// cluster's periodic compaction does (the history is what HashKV, at
	// the end of an apply, reads).
	r, err := sc.clients[0].Delete(ctx, sc.prefix+"/", clientv3.WithPrefix())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sc.clients[0].Compact(ctx, r.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		b.Fatal(err)
	}
	return lost
}

// gap is a time in which no client had a write acknowledged.
type gap struct{ from, to time.Duration }

func (g gap) len() time.Duration { return g.to - g.from }

// runResult is what one run of one variant measured.
type runResult struct {
	maxGap     time.Duration
	maxReq     request // the longest request
	p99Write   time.Duration
	failed     int
	slow       int // requests that took over a second
	lost       int
	wall       time.Duration // the variant's own work
	load       string        // /proc/loadavg at the start
	gaps       []gap         // over stallReportGap
	window     time.Duration // the time the gaps were looked for in
	writesPerS float64
}

// analyse computes the gaps between acknowledged writes in [from, to], the
// longest request and the p99 write latency.
func (tl *timeline) analyse(from, to time.Duration) runResult {
	var res runResult
	var acks []time.Duration
	var lat []time.Duration
	for _, r := range tl.reqs {
		if r.err != "" {
			res.failed++
		}
		if r.end-r.start > res.maxReq.end-res.maxReq.start {
			res.maxReq = r
		}
		if r.end-r.start > time.Second {
			res.slow++
		}
		if !r.write || r.err != "" {
			continue
		}
		lat = append(lat, r.end-r.start)
		if r.end >= from && r.end <= to {
			acks = append(acks, r.end)
		}
	}
	slices.Sort(acks)
	prev := from
	for _, a := range append(acks, to) {
		g := gap{prev, a}
		res.maxGap = max(res.maxGap, g.len())
		if g.len() > stallReportGap {
			res.gaps = append(res.gaps, g)
		}
		prev = a
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p99Write = lat[len(lat)*99/100]
	}
	res.writesPerS = float64(len(acks)) / (to - from).Seconds()
	res.window = to - from
	return res
}

// describe prints one gap with the events it overlaps: the last event of
// the bench or apply before it began, and every event (etcd's log lines
// among them) from 100 ms before it to its end.
func (tl *timeline) describe(g gap, names map[string]string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "    gap %6.0f ms  [%7.3f s .. %7.3f s]", ms(g.len()), g.from.Seconds(), g.to.Seconds())
	var before *tlEvent
	for i, e := range tl.events {
		if !e.log && e.at <= g.from {
			before = &tl.events[i]
		}
	}
	if before != nil {
		fmt.Fprintf(&sb, "  during: %s (at %.3f s)", before.what, before.at.Seconds())
	}
	sb.WriteString(tl.around(g.from-100*time.Millisecond, g.to))
	// The requests in flight at the gap's start that ended after it, by
	// member: what the clients were waiting for.
	stuck := map[string]int{}
	for _, r := range tl.reqs {
		if r.start <= g.from && r.end > g.from {
			op := "get"
			if r.write {
				op = "put"
			}
			who := fmt.Sprintf("%s sent to %s", op, names[r.addr])
			if r.err != "" {
				who += " failed: " + r.err
			} else if r.end >= g.to {
				who += fmt.Sprintf(" answered after the gap (the last at %.3f s)", r.end.Seconds())
			} else {
				who += " answered in the gap"
			}
			stuck[who]++
		}
	}
	if len(stuck) > 0 {
		var parts []string
		for who, n := range stuck {
			parts = append(parts, fmt.Sprintf("%d %s", n, who))
		}
		slices.Sort(parts)
		fmt.Fprintf(&sb, "\n        in flight when the gap began: %s", strings.Join(parts, "; "))
	}
	return sb.String()
}

// spread says, for the second after each member's restart was sent, how
// many requests each member answered: where the clients went while it was
// down (a member restarted just before that has no share yet while the
// clients' gRPC connections to it wait out their reconnect backoff).
func (tl *timeline) spread(names map[string]string) string {
	var sb strings.Builder
	for _, e := range tl.events {
		if e.log || !strings.HasPrefix(e.what, "restart sent") {
			continue
		}
		n := map[string]int{}
		for _, r := range tl.reqs {
			if r.err == "" && r.end > e.at && r.end <= e.at+time.Second {
				n[names[r.addr]]++
			}
		}
		var parts []string
		for who, k := range n {
			parts = append(parts, fmt.Sprintf("%s %d", who, k))
		}
		slices.Sort(parts)
		fmt.Fprintf(&sb, "    answered in the second after %s at %.3f s: %s\n", e.what, e.at.Seconds(), strings.Join(parts, ", "))
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// failures counts the failed requests by error and member.
func (tl *timeline) failures(names map[string]string) string {
	n := map[string]int{}
	for _, r := range tl.reqs {
		if r.err != "" {
			n[fmt.Sprintf("%q sent to %s", r.err, names[r.addr])]++
		}
	}
	var parts []string
	for what, k := range n {
		parts = append(parts, fmt.Sprintf("%d %s", k, what))
	}
	slices.Sort(parts)
	return "    failed requests: " + strings.Join(parts, "; ")
}

// around lists the events between from and to.
func (tl *timeline) around(from, to time.Duration) string {
	var sb strings.Builder
	for _, e := range tl.events {
		if e.at > from && e.at <= to {
			src := "bench"
			if e.log {
				src = "etcd log"
			}
			fmt.Fprintf(&sb, "\n        %7.3f s  %-8s %s", e.at.Seconds(), src, e.what)
		}
	}
	return sb.String()
}

// etcdLogEvents adds the lines of each member's etcd log (zap JSON, wall
// clock) between from and to that say something about leadership, the
// member's stop and start, or slowness.
func (tl *timeline) etcdLogEvents(st *lab.State, from, to time.Duration) {
	keep := []string{"became leader", "elected leader", "lost leader", "became follower", "became candidate",
		"starts to transfer leadership", "MsgTimeoutNow", "leadership transfer", "closing etcd server",
		"closed etcd server", "ready to serve client requests", "slow fdatasync", "took too long",
		"dropped", "leader changed", "timed out", "received signal", "starting an etcd server", "is starting a new election"}
	// What a member's stop and start always log, which says nothing more
	// than "closing etcd server" and "ready to serve client requests".
	noise := []string{"TCP streaming connection", "peer became inactive", "failed to find remote peer", "setting up serving",
		"grpc server due to error", "failed to reach the peer URL", "failed to get version", "prober detected unhealthy",
		"Running http and grpc server on single port", "failed to dial", "failed to write"}
	for _, h := range st.Members() {
		f, err := os.Open(filepath.Join(h.Root, "var-log", "etcd", "etcd.log"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				TS    string `json:"ts"`
				Level string `json:"level"`
				Msg   string `json:"msg"`
				Error string `json:"error"`
				Took  string `json:"took"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			ts, err := time.Parse(time.RFC3339Nano, line.TS)
			if err != nil {
				continue
			}
			at := ts.Sub(tl.t0.Round(0)) // wall clock against wall clock
			if at < from || at > to {
				continue
			}
			has := func(k string) bool { return strings.Contains(line.Msg, k) || strings.Contains(line.Error, k) }
			if slices.ContainsFunc(noise, has) || !slices.ContainsFunc(keep, has) && line.Level != "warn" && line.Level != "error" {
				continue
			}
			what := fmt.Sprintf("%s: %s %s", h.Name, line.Level, line.Msg)
			if line.Took != "" {
				what += " took=" + line.Took
			}
			if line.Error != "" {
				what += " error=" + line.Error
			}
			tl.events = append(tl.events, tlEvent{at: at, what: what, log: true})
		}
		f.Close()
	}
	slices.SortStableFunc(tl.events, func(a, b tlEvent) int { return int(a.at - b.at) })
}

// stallLab is one lab and what every variant needs of it.
type stallLab struct {
	st    *lab.State
	eps   []string
	etcd  *etcdp.Client
	names map[uint64]string // member ID -> name
	addrs map[string]string // client URL host:port -> name
	quota int               // the running quota, in GiB (0: the lab's default)
}

// restartPlan plans, through the CLI, a quota change that restarts every
// member, and returns it with its configuration (untimed, before the run).
func (sl *stallLab) restartPlan(b *testing.B) (*model.Plan, *schema.Config, int) {
	quota := 3 // 3 and 4 GiB in turn: never the running quota
	if sl.quota == 3 {
		quota = 4
	}
	dir := labtest.ConfigDir(b, sl.st, labtest.WithStorage(fmt.Sprintf("%dGiB", quota)))
	pf := filepath.Join(b.TempDir(), "restart.plan")
	if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		b.Fatalf("plan of a quota change: exit %d", code)
	}
	p, err := planfile.ReadFile(pf)
	if err != nil {
		b.Fatal(err)
	}
	cfg, diags := schema.Load(dir, schema.LoadOptions{Getenv: os.Getenv})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return p, cfg, quota
}

// restarts returns the plan's restart steps, in the plan's order (the
// leader last).
func restarts(p *model.Plan) []model.Step {
	var out []model.Step
	for _, s := range p.Steps {
		if s.Action == model.Restart {
			out = append(out, s)
		}
	}
	return out
}

// BenchmarkRollingRestartStall measures what clients see during a rolling
// restart (issue 20): the longest time without an acknowledged write, over
// ETCDFORM_STALL_RUNS runs (default 20) on labs of each size in
// ETCDFORM_STALL_MEMBERS (default 3 and 5), for three ways of restarting
// every member, interleaved run by run, and the clients alone:
//
//   - idle: no restart, the clients alone for 4 s: the noise floor of the
//     machine (shared CPU, fsync) that every other variant includes;
//   - naive: each member in turn, the service restarted (the same service
//     manager call apply makes) and its /health waited for; no leadership
//     transfer, no gate (the leader is restarted where it falls);
//   - etcdform: apply of a quota change (write-config and restart per
//     member, leader last, gates), in-process so that its milestones are on
//     the clients' clock;
//   - physical: the physical limit, the same restarts with everything known
//     and every client told: the leader moved first, each client's
//     endpoint list stripped of the member before it stops and given it
//     back once the member serves a linearizable read. What is left is what
//     etcd and this machine cost: the leader change, fsyncs, the shared CPU.
//
// It prints every gap over 50 ms with the events it overlaps, and then,
// per size and variant, the distribution of the longest gap, the longest
// request and the p99 write latency, with the load average of each run.
func BenchmarkRollingRestartStall(b *testing.B) {
	set := readStallSettings(b)
	for _, size := range set.sizes {
		// A sub-benchmark per size, so that each lab is down before the
		// next one starts.
		b.Run(fmt.Sprintf("%dmembers", size), func(b *testing.B) { stallSize(b, set, size) })
	}
}

// stallSize runs every variant set.runs times on a lab of size members.
func stallSize(b *testing.B, set stallSettings, size int) {
	st := labtest.Up(b, lab.Options{Members: size})
	sl := &stallLab{st: st, eps: endpoints(st), names: map[uint64]string{}, addrs: map[string]string{"": "nobody (never sent)"}}
	for _, h := range st.Members() {
		sl.addrs[strings.TrimPrefix(h.ClientURL(), "http://")] = h.Name
	}
	ec, err := etcdp.New(sl.eps)
	if err != nil {
		b.Fatal(err)
	}
	sl.etcd = ec
	ms, _, err := ec.Members(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range ms {
		sl.names[m.ID] = m.Name
	}
	results := map[string][]runResult{}
	for i := range set.runs {
		for _, v := range set.variants {
			r := sl.run(b, v, i)
			results[v] = append(results[v], r)
		}
	}
	ec.Close()
	fmt.Printf("\nrolling restart of %d members, %d runs; clients: 1 writer at 200 writes/s + 8 clients (put, linearizable get) at 25 requests/s, all with every endpoint\n", size, set.runs)
	for _, v := range set.variants {
		summarise(b, size, v, results[v])
	}
}

// run runs one variant once, under the clients, and prints its timeline's
// gaps.
func (sl *stallLab) run(b *testing.B, variant string, i int) runResult {
	var (
		p     *model.Plan
		cfg   *schema.Config
		quota int
	)
	if variant != "idle" {
		p, cfg, quota = sl.restartPlan(b)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	tl := newTimeline()
	sc := startStallClients(b, tl, sl.eps, fmt.Sprintf("/stall/%s/%d", variant, i))
	time.Sleep(time.Second) // steady load before the restarts, by design
	from := tl.now()
	tl.event("%s starts", variant)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	switch variant {
	case "idle":
		time.Sleep(4 * time.Second) // the clients alone, as long as a restart of every member takes, by design
	case "naive":
		sl.naive(b, ctx, tl, p, cfg)
	case "etcdform":
		sl.etcdform(b, ctx, tl, p, cfg)
		sl.quota = quota
	case "physical":
		sl.physical(b, ctx, tl, p, cfg, sc)
	}
	wall := tl.now() - from
	tl.event("%s done", variant)
	time.Sleep(time.Second) // and after, by design
	to := tl.now()
	lost := sc.finish(b)
	tl.etcdLogEvents(sl.st, from-time.Second, to)
	res := tl.analyse(from, to)
	res.lost, res.wall, res.load = lost, wall, strings.Join(strings.Fields(string(load))[:3], " ")
	fmt.Printf("%d members, %-8s run %2d: longest gap %6.1f ms, longest request %6.1f ms (%s), p99 write %5.1f ms, %4.0f writes/s, failed %d, lost %d, wall %5.2f s, load %s\n",
		len(sl.eps), variant, i+1, ms(res.maxGap), ms(res.maxReq.end-res.maxReq.start), reqLabel(res.maxReq, sl.addrs),
		ms(res.p99Write), res.writesPerS, res.failed, res.lost, res.wall.Seconds(), res.load)
	for _, g := range res.gaps {
		fmt.Println(tl.describe(g, sl.addrs))
	}
	fmt.Println(tl.spread(sl.addrs))
	if res.failed > 0 {
		fmt.Println(tl.failures(sl.addrs))
	}
	for _, r := range tl.reqs {
		if r.end-r.start > time.Second && r != res.maxReq {
			fmt.Printf("    request over 1 s: %.0f ms [%7.3f s .. %7.3f s]: %s\n", ms(r.end-r.start), r.start.Seconds(), r.end.Seconds(), reqLabel(r, sl.addrs))
		}
	}
	if d := res.maxReq.end - res.maxReq.start; d > stallGoal {
		fmt.Printf("    longest request %.0f ms [%7.3f s .. %7.3f s]: %s%s\n", ms(d), res.maxReq.start.Seconds(), res.maxReq.end.Seconds(),
			reqLabel(res.maxReq, sl.addrs), tl.around(res.maxReq.start-200*time.Millisecond, res.maxReq.start+300*time.Millisecond))
	}
	if lost > 0 {
		b.Errorf("%s run %d: %d acknowledged writes lost", variant, i+1, lost)
	}
	return res
}

func reqLabel(r request, names map[string]string) string {
	op := "get"
	if r.write {
		op = "put"
	}
	if r.err != "" {
		return fmt.Sprintf("client %d %s at %.3f s sent to %s failed: %s", r.client, op, r.start.Seconds(), names[r.addr], r.err)
	}
	return fmt.Sprintf("client %d %s at %.3f s answered by %s", r.client, op, r.start.Seconds(), names[r.addr])
}

// hosts connects to the host of each restart step.
func hostsOf(b *testing.B, ctx context.Context, cfg *schema.Config, steps []model.Step) []apply.Host {
	var out []apply.Host
	for _, s := range steps {
		h, err := connect.Connector{Config: cfg}.Host(ctx, *s.Target)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { h.Close() })
		out = append(out, h)
	}
	return out
}

func (sl *stallLab) naive(b *testing.B, ctx context.Context, tl *timeline, p *model.Plan, cfg *schema.Config) {
	steps := restarts(p)
	slices.SortFunc(steps, func(a, c model.Step) int { return strings.Compare(a.Member, c.Member) }) // config order, the leader where it falls
	hosts := hostsOf(b, ctx, cfg, steps)
	for i, s := range steps {
		h, err := sl.st.Host(s.Member)
		if err != nil {
			b.Fatal(err)
		}
		tl.event("restart sent %s", s.Member)
		if err := hosts[i].Restart(ctx); err != nil {
			b.Fatal(err)
		}
		tl.event("service running %s", s.Member)
		waitHealthy(b, *h)
		tl.event("/health ok %s", s.Member)
	}
}

func (sl *stallLab) etcdform(b *testing.B, ctx context.Context, tl *timeline, p *model.Plan, cfg *schema.Config) {
	_, err := apply.Run(ctx, p, connect.Connector{Config: cfg}, apply.Options{
		SnapshotDir: b.TempDir(),
		Progress: func(e apply.Event) {
			switch {
			case e.Milestone == apply.LeaderMoveSent || e.Milestone == apply.LeaderMoved:
				tl.event("%s %s -> %s", e.Milestone, e.Member, sl.names[e.Peer])
			case e.Milestone != 0:
				tl.event("%s %s (%s)", e.Milestone, e.Member, e.Action)
			}
		},
	})
	if err != nil {
		b.Fatalf("apply: %v", err)
	}
}

func (sl *stallLab) physical(b *testing.B, ctx context.Context, tl *timeline, p *model.Plan, cfg *schema.Config, sc *stallClients) {
	steps := restarts(p)
	hosts := hostsOf(b, ctx, cfg, steps)
	for i, s := range steps {
		h, err := sl.st.Host(s.Member)
		if err != nil {
			b.Fatal(err)
		}
		leader, _, err := sl.etcd.Leader(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if sl.names[leader] == s.Member {
			to, err := sl.etcd.PickTransferee(ctx, leader)
			if err != nil {
				b.Fatal(err)
			}
			tl.event("MoveLeader sent %s -> %s", s.Member, sl.names[to])
			if err := sl.etcd.MoveLeader(ctx, to); err != nil {
				b.Fatal(err)
			}
			tl.event("leader moved %s -> %s", s.Member, sl.names[to])
		}
		others := slices.DeleteFunc(slices.Clone(sl.eps), func(ep string) bool { return ep == h.ClientURL() })
		for _, c := range sc.clients {
			c.SetEndpoints(others...)
		}
		tl.event("clients left %s", s.Member)
		tl.event("restart sent %s", s.Member)
		if err := hosts[i].Restart(ctx); err != nil {
			b.Fatal(err)
		}
		tl.event("service running %s", s.Member)
		serves(b, ctx, h.ClientURL())
		tl.event("serves linearizable reads %s", s.Member)
		for j, c := range sc.clients {
			c.SetEndpoints(append(slices.Clone(sl.eps[j%len(sl.eps):]), sl.eps[:j%len(sl.eps)]...)...)
		}
		tl.event("clients back on %s", s.Member)
	}
}

// serves waits until a linearizable read through ep alone succeeds.
func serves(b *testing.B, ctx context.Context, ep string) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	labtest.Eventually(b, 2*time.Minute, func() error {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := c.Get(rctx, "/stall-probe")
		return err
	})
}

// summarise prints one variant's distribution over the runs.
func summarise(b *testing.B, size int, variant string, rs []runResult) {
	if len(rs) == 0 {
		return
	}
	var gaps, reqs, p99s []time.Duration
	over, slow, slowRuns, over100 := 0, 0, 0, 0
	var window time.Duration
	var loads []string
	for _, r := range rs {
		gaps = append(gaps, r.maxGap)
		reqs = append(reqs, r.maxReq.end-r.maxReq.start)
		p99s = append(p99s, r.p99Write)
		if r.maxGap > stallGoal {
			over++
		}
		slow += r.slow
		if r.slow > 0 {
			slowRuns++
		}
		window += r.window
		for _, g := range r.gaps {
			if g.len() > stallGoal {
				over100++
			}
		}
		loads = append(loads, strings.Fields(r.load)[0])
	}
	slices.Sort(gaps)
	slices.Sort(reqs)
	slices.Sort(p99s)
	q := func(s []time.Duration, p int) float64 { return ms(s[(len(s)-1)*p/100]) }
	fmt.Printf("  %-8s longest gap ms: min %6.1f  p50 %6.1f  p90 %6.1f  max %6.1f  (runs over %d ms: %d of %d)   longest request ms: p50 %6.1f max %6.1f   p99 write ms: p50 %5.1f max %5.1f   1-min load per run: %s\n",
		variant, q(gaps, 0), q(gaps, 50), q(gaps, 90), q(gaps, 100), stallGoal.Milliseconds(), over, len(rs),
		q(reqs, 50), q(reqs, 100), q(p99s, 50), q(p99s, 100), strings.Join(loads, " "))
	fmt.Printf("  %-8s longest gap of each run, ms: %s; gaps over %d ms: %.1f a minute; requests over 1 s: %d, in %d of %d runs\n",
		variant, joinMs(gaps), stallGoal.Milliseconds(), float64(over100)/window.Minutes(), slow, slowRuns, len(rs))
	name := fmt.Sprintf("%dm-%s", size, variant)
	b.ReportMetric(q(gaps, 50), name+"-p50-gap-ms")
	b.ReportMetric(q(gaps, 100), name+"-max-gap-ms")
	b.ReportMetric(q(p99s, 50), name+"-p99-write-ms")
}

func joinMs(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, strconv.FormatFloat(ms(d), 'f', 0, 64))
	}
	return strings.Join(parts, " ")
}
