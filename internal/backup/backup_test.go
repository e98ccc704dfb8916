package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
)

// fixture is a one-member etcd with known content.
type fixture struct {
	c        *etcdtest.Cluster
	cli      *clientv3.Client
	endpoint string
	id       *age.X25519Identity
	bins     *etcdbin.Binaries
}

const secretValue = "plaintext-secret-value-3f9a"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := etcdtest.NewCluster(t, 1)
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	bins, err := etcdbin.Ensure(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{c: c, cli: cli, endpoint: c.Endpoints()[0], id: id, bins: bins}
}

// write puts n keys under prefix (values carry secretValue), then deletes
// the first del of them; it returns the cluster's revision.
func (f *fixture) write(t *testing.T, prefix string, n, del, valueSize int) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pad := make([]byte, valueSize)
	var rev int64
	for i := range n {
		rand.Read(pad)
		r, err := f.cli.Put(ctx, fmt.Sprintf("%s/%04d", prefix, i), secretValue+string(pad))
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}
	for i := range del {
		r, err := f.cli.Delete(ctx, fmt.Sprintf("%s/%04d", prefix, i))
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}
	return rev
}

func (f *fixture) count(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := f.cli.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return r.Count
}

func (f *fixture) job(t *testing.T, s backupstore.Store) Job {
	return Job{Cluster: "main", Endpoint: f.endpoint, Store: s, Recipient: f.id.Recipient().String(), WorkDir: t.TempDir()}
}

func (f *fixture) drill(s backupstore.Store, id string) Drill {
	return Drill{Store: s, ID: id, Identities: []age.Identity{f.id}, Etcd: f.bins.Etcd, Etcdutl: f.bins.Etcdutl}
}

// clock is a fake time source advancing by step on every call.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestRunEncryptsRecordsAndDrillRestores(t *testing.T) {
	f := newFixture(t)
	rev := f.write(t, "/registry/secrets", 60, 7, 64)
	dir := t.TempDir()
	s := backupstore.NewFileStore(dir)
	j := f.job(t, s)
	j.Textfile = filepath.Join(t.TempDir(), "backup.prom")
	res, err := Run(ctxT(t), j)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Meta
	if m.Revision != rev || m.KeyCount != 53 || m.KeyCount != f.count(t) || !m.Encrypted || m.KVHash == 0 {
		t.Fatalf("recorded revision %d (want %d), keys %d (want 53), encrypted %v, kv hash %d", m.Revision, rev, m.KeyCount, m.Encrypted, m.KVHash)
	}
	obj, err := os.ReadFile(filepath.Join(dir, m.Object))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(obj, []byte("age-encryption.org/v1\n")) || bytes.Contains(obj, []byte(secretValue)) {
		t.Fatalf("stored object is not an age file or holds plaintext (%d bytes, starts %q)", len(obj), obj[:min(len(obj), 24)])
	}
	ents, _ := os.ReadDir(j.WorkDir)
	if len(ents) != 0 {
		t.Fatalf("work directory not cleaned: %v", ents)
	}
	names, _ := s.Names(t.Context())
	if len(names) != 2 {
		t.Fatalf("destination holds %v, want the object and its sidecar", names)
	}
	met := ReadTextfile(j.Textfile)
	if met[MetricLastOK] != 1 || met[MetricLastSuccess] == 0 || met[MetricSize] != float64(len(obj)) || met[MetricFailures] != 0 {
		t.Fatalf("textfile after success: %v", met)
	}

	// Keys written after the backup must not be in the restored member.
	f.write(t, "/after", 5, 0, 8)
	rep, err := Verify(ctxT(t), f.drill(s, ""))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Meta.ID != m.ID || rep.KeyCount != 53 || rep.Revision != rev || rep.KVHash != m.KVHash || len(rep.Problems) > 0 {
		t.Fatalf("drill report %+v", rep)
	}
}

func TestVerifyDetectsDamage(t *testing.T) {
	f := newFixture(t)
	f.write(t, "/k", 30, 0, 200)
	dir := t.TempDir()
	s := backupstore.NewFileStore(dir)
	res, err := Run(ctxT(t), f.job(t, s))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, res.Meta.Object)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		damage func(b []byte) []byte
		want   string
	}{
		"flipped byte": {func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 0x40; return c }, "corrupted or truncated"},
		"truncated":    {func(b []byte) []byte { return b[:len(b)*2/3] }, "corrupted or truncated"},
		"cut header":   {func(b []byte) []byte { return b[:10] }, "corrupted or truncated"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.damage(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Verify(ctxT(t), f.drill(s, res.Meta.ID))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want ErrCorrupt", err)
			}
		})
	}
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("wrong identity", func(t *testing.T) {
		other, _ := age.GenerateX25519Identity()
		d := f.drill(s, res.Meta.ID)
		d.Identities = []age.Identity{other}
		_, err := Verify(ctxT(t), d)
		if err == nil || !strings.Contains(err.Error(), "does not match its recipient") {
			t.Fatalf("Verify = %v", err)
		}
	})
	t.Run("record mismatch", func(t *testing.T) {
		m := res.Meta
		m.KeyCount++
		b, _ := backupstore.EncodeMeta(m)
		if err := os.WriteFile(filepath.Join(dir, backupstore.SidecarName(m.ID)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(ctxT(t), f.drill(s, res.Meta.ID))
		if !errors.Is(err, ErrMismatch) || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "keys") {
			t.Fatalf("Verify = %v, report %+v", err, rep)
		}
	})
}

func TestUnencrypted(t *testing.T) {
	f := newFixture(t)
	f.write(t, "/k", 5, 0, 8)
	dir := t.TempDir()
	s := backupstore.NewFileStore(dir)
	j := f.job(t, s)
	j.Recipient = ""
	if _, err := Run(ctxT(t), j); !errors.Is(err, ErrNoRecipient) {
		t.Fatalf("Run without recipient = %v, want ErrNoRecipient", err)
	}
	if names, _ := s.Names(t.Context()); len(names) != 0 {
		t.Fatalf("refused run left %v", names)
	}
	j.AllowUnencrypted = true
	res, err := Run(ctxT(t), j)
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Encrypted || !strings.HasSuffix(res.Meta.Object, ExtPlain) {
		t.Fatalf("meta %+v", res.Meta)
	}
	path := filepath.Join(dir, res.Meta.Object)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := Verify(ctxT(t), f.drill(s, res.Meta.ID)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify of a flipped plaintext snapshot = %v", err)
	}
}

func TestRetention(t *testing.T) {
	f := newFixture(t)
	f.write(t, "/k", 5, 0, 8)
	s := backupstore.NewFileStore(t.TempDir())
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), step: 10 * time.Minute}
	j := f.job(t, s)
	j.Now, j.KeepLast = clk.now, 3
	var ids []string
	for range 5 {
		res, err := Run(ctxT(t), j)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Meta.ID)
	}
	got, _, err := backupstore.List(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := s.Names(t.Context())
	if len(got) != 3 || got[0].ID != ids[2] || got[2].ID != ids[4] || len(names) != 6 {
		t.Fatalf("after 5 runs with keep_last 3: %d listed, names %v", len(got), names)
	}

	// An object whose run died before its record: removed once older
	// than OrphanGrace, and only then.
	for name, age := range map[string]time.Duration{"old": OrphanGrace + time.Hour, "young": time.Hour} {
		id := "main-" + clk.t.Add(-age).UTC().Format("20060102T150405Z") + "-r9"
		if _, err := s.Put(t.Context(), id+ExtEncrypted, strings.NewReader(name), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(t.Context(), "other-20200101T000000Z-r1"+ExtEncrypted, strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctxT(t), j)
	if err != nil {
		t.Fatal(err)
	}
	names, _ = s.Names(t.Context())
	if len(names) != 8 || len(res.Deleted) != 2 || !strings.HasSuffix(res.Deleted[1], ExtEncrypted) {
		t.Fatalf("after a run with two orphans: names %v, deleted %v", names, res.Deleted)
	}
	ids = append(ids, res.Meta.ID)

	// max_age 30m: runs are 30 minutes apart (three clock reads each), so
	// the previous backup, exactly 30 minutes old, stays.
	j.KeepLast, j.MaxAge = 0, 30*time.Minute
	res, err = Run(ctxT(t), j)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ = backupstore.List(t.Context(), s)
	if len(got) != 2 || got[0].ID != ids[5] || got[1].ID != res.Meta.ID || len(res.Deleted) != 2 {
		t.Fatalf("after max_age: %v, deleted %v", got, res.Deleted)
	}
}

func TestFailedRunRecordsFailure(t *testing.T) {
	f := newFixture(t)
	f.write(t, "/k", 5, 0, 8)
	s := backupstore.NewFileStore(t.TempDir())
	j := f.job(t, s)
	j.Textfile = filepath.Join(t.TempDir(), "m", "backup.prom")
	if _, err := Run(ctxT(t), j); err != nil {
		t.Fatal(err)
	}
	okAt := ReadTextfile(j.Textfile)[MetricLastSuccess]
	if err := f.c.Members[0].Kill(); err != nil {
		t.Fatal(err)
	}
	j.ConnectTimeout = time.Second
	for i := 1; i <= 2; i++ {
		_, err := Run(ctxT(t), j)
		if err == nil || !strings.Contains(err.Error(), "does not answer") {
			t.Fatalf("Run against a dead member = %v", err)
		}
		met := ReadTextfile(j.Textfile)
		if met[MetricFailures] != float64(i) || met[MetricLastOK] != 0 || met[MetricLastSuccess] != okAt {
			t.Fatalf("textfile after failure %d: %v", i, met)
		}
	}
	if got, _, _ := backupstore.List(t.Context(), s); len(got) != 1 {
		t.Fatalf("failed runs changed the destination: %v", got)
	}
}

func TestTextfileRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.prom")
	at := time.Unix(1700000000, 0)
	if err := WriteTextfile(p, Metrics{Cluster: "a", RunTime: at, Duration: 1500 * time.Millisecond, Success: true, Size: 42}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, want := range []string{
		`etcdform_backup_last_success_timestamp_seconds{cluster="a"} 1700000000`,
		`etcdform_backup_last_size_bytes{cluster="a"} 42`,
		`etcdform_backup_last_duration_seconds{cluster="a"} 1.5`,
		`etcdform_backup_failures_total{cluster="a"} 0`,
		"# TYPE etcdform_backup_failures_total counter",
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("textfile lacks %q:\n%s", want, b)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}
