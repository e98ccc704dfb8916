package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// withDefrag adds a maintenance block with a defrag policy to the cluster.
func withDefrag(above, minReclaim string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "  service {", fmt.Sprintf("  maintenance {\n    defrag {\n      fragmentation_above = %q\n      min_reclaimable     = %q\n    }\n  }\n\n  service {", above, minReclaim), 1)
	}
}

// TestRoutineDefragE2E is issue 15's routine defrag under load: the
// database fragmented (about 100 MiB written, deleted and compacted) while
// a client keeps writing; the plan of a maintenance block defragments each
// member, the leader last; applied under a writer of at least 100
// writes/s, no acknowledged write is lost, each
// member's DB shrinks by at least 80% of what it had free, and a second
// plan is empty.
func TestRoutineDefragE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	val := strings.Repeat("x", 1<<20)
	for i := range 100 {
		if _, err := c.Put(ctx, fmt.Sprintf("frag/%03d", i), val); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.Delete(ctx, "frag/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(ctx, r.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	w := startWriter(t, st)
	hist := recordHistory(t, st)

	// sizes returns each member's dbSize and its free part (dbSize -
	// dbSizeInUse).
	sizes := func() (size, free map[string]int64) {
		size, free = map[string]int64{}, map[string]int64{}
		for _, h := range st.Members() {
			s, err := c.Status(ctx, h.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			size[h.Name], free[h.Name] = s.DbSize, s.DbSize-s.DbSizeInUse
		}
		return size, free
	}
	// Every member compacts on its own: wait until each has the deleted
	// data free.
	labtest.Eventually(t, time.Minute, func() error {
		_, free := sizes()
		for name, f := range free {
			if f < 64<<20 {
				return fmt.Errorf("%s has %d bytes free, not yet the deleted 100 MiB", name, f)
			}
		}
		return nil
	})
	before, planned := sizes()
	leader := leaderName(t, st)
	mark := w.mark()

	dir := config(t, st, withDefrag("30%", "32MiB"))
	p, code := planAsJSON(t, dir)
	if code != 2 || !p.Applicable {
		t.Fatalf("plan: exit %d, applicable %v, refusals %+v", code, p.Applicable, p.Refusals)
	}
	var got []string
	for _, a := range actions(p) {
		if a != "snapshot" {
			got = append(got, a)
		}
	}
	if len(got) != 3 || got[2] != "defrag "+leader {
		t.Fatalf("steps %v: want a defrag of each member, the leader %s last", got, leader)
	}
	for _, a := range got {
		if !strings.HasPrefix(a, "defrag ") {
			t.Fatalf("steps %v: want only defrags", got)
		}
	}
	if _, _, code := cli(t, applyArgs(t, planFile(t, dir))...); code != 0 {
		t.Fatalf("apply of the defrags: exit %d", code)
	}
	w.checkRate(t, mark, "plan and apply")
	w.verify(t)
	hist.Verify(t)
	after, _ := sizes()
	for name, b := range before {
		if drop := b - after[name]; drop < planned[name]*8/10 {
			t.Errorf("%s: DB %d -> %d bytes, dropped %d, want at least 80%% of the %d it had free", name, b, after[name], drop, planned[name])
		}
	}
	if _, _, code := cli(t, "plan", "--detailed-exitcode", dir); code != 0 {
		t.Errorf("second plan: exit %d, want 0 (empty)", code)
	}
}
