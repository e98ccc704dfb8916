package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestNoSpaceRecoveryE2E is issue 15's NOSPACE incident: a
// 3-member lab brought to a 160 MiB quota (by etcdform itself), written
// until etcd raises NOSPACE, then the quota raised to 2 GiB in the HCL. The
// plan must be applicable and hold the guide's recovery before the config
// change: compact, a defrag per member with the leader last, disarm-alarm,
// and only then the config writes and restarts. Applied, it exits 0, no
// alarm is left, a write succeeds and every acknowledged key is there.
func TestNoSpaceRecoveryE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	if _, _, code := cli(t, applyArgs(t, planFile(t, config(t, st, withStorage("160MiB"))))...); code != 0 {
		t.Fatalf("apply of the 160MiB quota: exit %d", code)
	}

	c := etcdClient(t, st)
	// Fill by overwriting 16 keys of 1 MiB, as churn fills a Kubernetes
	// etcd: the database grows with history, which the recovery's
	// compaction and defragmentation free. (A database whose live data
	// fills the quota cannot be recovered by compaction before the quota
	// is raised; see the closing note of issue 15.)
	val := strings.Repeat("x", 1<<20)
	full := false
	acked := map[string]string{} // key -> last acknowledged value's prefix
	// The put that fails with NOSPACE may still have been applied: etcd's
	// quota applier applies the write and then reports the space error
	// (the API-level check races the backend's size update). Its key may
	// hold either value afterwards; every other key must hold its last
	// acknowledged one.
	failedKey, failedPrefix := "", ""
	for i := 0; i < 400 && !full; i++ {
		key := fmt.Sprintf("fill/%02d", i%16)
		prefix := fmt.Sprintf("%04d", i)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := c.Put(ctx, key, prefix+val[4:])
		cancel()
		switch {
		case err != nil && strings.Contains(err.Error(), "database space exceeded"):
			full = true
			failedKey, failedPrefix = key, prefix
		case err != nil:
			t.Fatalf("put %d: %v", i, err)
		default:
			acked[key] = prefix
		}
	}
	if !full {
		t.Fatal("400 MiB written and no NOSPACE: the quota is not 160 MiB")
	}
	labtest.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		al, err := c.AlarmList(ctx)
		if err != nil {
			return err
		}
		if len(al.Alarms) == 0 {
			return fmt.Errorf("no alarm raised yet")
		}
		return nil
	})
	// Each member raises its own NOSPACE as it applies the failing write;
	// give the others a bounded while to do so, so that the plan below sees
	// the alarms apply will find (a member that never raises one is fine).
	settle, cancelSettle := context.WithTimeout(t.Context(), 10*time.Second)
	for {
		al, err := c.AlarmList(settle)
		if (err == nil && len(al.Alarms) >= len(st.Members())) || settle.Err() != nil {
			break
		}
		select {
		case <-settle.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancelSettle()
	leader := leaderName(t, st)

	p, code := planAsJSON(t, config(t, st, withStorage("2GiB")))
	if code != 2 || !p.Applicable || len(p.Refusals) > 0 {
		t.Fatalf("plan: exit %d, applicable %v, refusals %+v; want an applicable plan with changes", code, p.Applicable, p.Refusals)
	}
	got := actions(p)
	if len(got) > 0 && got[0] == "snapshot" {
		got = got[1:]
	}
	// compact, defrag x3 (leader last), disarm-alarm (one per alarmed
	// member), then the config change.
	if len(got) < 5 || got[0] != "compact" {
		t.Fatalf("steps %v: want compact first (after the snapshot)", got)
	}
	var defrags []string
	i := 1
	for ; i < len(got) && strings.HasPrefix(got[i], "defrag "); i++ {
		defrags = append(defrags, strings.TrimPrefix(got[i], "defrag "))
	}
	if len(defrags) != 3 || defrags[2] != leader {
		t.Errorf("steps %v: want a defrag of each of the 3 members, the leader %s last", got, leader)
	}
	disarms := 0
	for ; i < len(got) && strings.HasPrefix(got[i], "disarm-alarm "); i++ {
		disarms++
	}
	if disarms == 0 {
		t.Errorf("steps %v: no disarm-alarm after the defrags", got)
	}
	writes := 0
	for ; i < len(got); i++ {
		a, _, _ := strings.Cut(got[i], " ")
		if a != "write-config" && a != "restart" {
			t.Errorf("steps %v: %s after the recovery; want only the config change there", got, got[i])
		}
		if a == "write-config" {
			writes++
		}
	}
	if writes != 3 {
		t.Errorf("steps %v: %d config writes, want 3 (the quota raise)", got, writes)
	}
	for _, s := range p.Steps {
		if s.Action == "defrag" && (len(s.Changes) != 1 || s.Changes[0].Attr != "db-size" || !strings.Contains(s.Changes[0].After, "reclaims")) {
			t.Errorf("defrag %s does not show the bytes it reclaims: %+v", s.Member, s.Changes)
		}
	}
	if t.Failed() {
		return
	}

	// Apply: exit 0, no alarm left, a write succeeds, and every key
	// acknowledged before the alarm is still there.
	if _, _, code := cli(t, applyArgs(t, planFile(t, config(t, st, withStorage("2GiB"))))...); code != 0 {
		t.Fatalf("apply of the NOSPACE recovery and the quota raise: exit %d, want 0", code)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if al, err := c.AlarmList(ctx); err != nil || len(al.Alarms) != 0 {
		t.Errorf("alarms after apply: %v, %v; want none", al, err)
	}
	if _, err := c.Put(ctx, "after-recovery", "ok"); err != nil {
		t.Errorf("a write after apply: %v", err)
	}
	for k, prefix := range acked {
		r, err := c.Get(ctx, k)
		if err != nil || len(r.Kvs) != 1 {
			t.Fatalf("acknowledged key %s after apply: %v, %d values; want its last acknowledged value (%s…)", k, err, len(r.Kvs), prefix)
		}
		got := string(r.Kvs[0].Value[:4])
		if got != prefix && (k != failedKey || got != failedPrefix) {
			t.Fatalf("acknowledged key %s after apply holds write %s; want its last acknowledged write %s (or %s, the write that raised NOSPACE)", k, got, prefix, failedPrefix)
		}
	}
}

// TestCorruptRefusedE2E: a CORRUPT alarm raised through etcd's API is a
// refusal that names the member; the plan has no step and the alarm stays.
func TestCorruptRefusedE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ml, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := ml.Members[0]
	mc := etcdserverpb.NewMaintenanceClient(c.ActiveConnection())
	if _, err := mc.Alarm(ctx, &etcdserverpb.AlarmRequest{Action: etcdserverpb.AlarmRequest_ACTIVATE, MemberID: m.ID, Alarm: etcdserverpb.AlarmType_CORRUPT}); err != nil {
		t.Fatal(err)
	}
	p, _ := planAsJSON(t, config(t, st, withStorage("3GiB")))
	if p.Applicable || len(p.Steps) != 0 {
		t.Errorf("plan: applicable %v, steps %v; want a refusal and no step", p.Applicable, actions(p))
	}
	found := false
	for _, r := range p.Refusals {
		found = found || (r.Summary == "Data corruption alarm raised" && r.Member == m.Name)
	}
	if !found {
		t.Errorf("refusals %+v: none names the CORRUPT alarm of %s", p.Refusals, m.Name)
	}
	al, err := c.AlarmList(ctx)
	if err != nil || len(al.Alarms) != 1 || al.Alarms[0].Alarm != etcdserverpb.AlarmType_CORRUPT {
		t.Errorf("alarms after plan: %v, %v; want CORRUPT still raised", al, err)
	}
}
