package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestNoSpaceRecoveryE2E is issue 15's NOSPACE incident: a
// 3-member lab brought to a 160 MiB quota (by etcdform itself), written
// until etcd raises NOSPACE, then the quota raised to 2 GiB in the HCL. The
// plan must be applicable and hold the guide's recovery: compact, a defrag
// per member with the leader last, disarm-alarm, then the config writes
// and restarts that raise the quota (after the snapshot), and a second
// disarm for a database whose live keys fill the old quota
// (quotaRaiseOrder). Applied, it exits 0, the first disarm gives writes
// back before the restarts, no alarm is left, a write succeeds and every
// acknowledged key is there.
func TestNoSpaceRecoveryE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	if _, _, code := cli(t, applyArgs(t, planFile(t, config(t, st, withStorage("160MiB"))))...); code != 0 {
		t.Fatalf("apply of the 160MiB quota: exit %d", code)
	}

	c := etcdClient(t, st)
	// The history runs from before the fill, through NOSPACE (puts refused:
	// unknown outcomes), to after the recovery.
	hist := recordHistory(t, st)
	// Fill by overwriting 16 keys of 1 MiB, as churn fills a Kubernetes
	// etcd: the database grows with history, which the recovery's
	// compaction and defragmentation free (TestNoSpaceLiveDataE2E fills
	// with live keys).
	fill := fillToNoSpace(t, c, func(i int) string { return fmt.Sprintf("fill/%02d", i%16) })
	leader := leaderName(t, st)

	p, code := planAsJSON(t, config(t, st, withStorage("2GiB")))
	if code != 2 || !p.Applicable || len(p.Refusals) > 0 {
		t.Fatalf("plan: exit %d, applicable %v, refusals %+v; want an applicable plan with changes", code, p.Applicable, p.Refusals)
	}
	quotaRaiseOrder(t, actions(p), leader)
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
	out, _, code := cli(t, applyArgs(t, planFile(t, config(t, st, withStorage("2GiB"))))...)
	if code != 0 {
		t.Fatalf("apply of the NOSPACE recovery and the quota raise: exit %d, want 0", code)
	}
	// History filled the quota: the disarm right after the defrags gives
	// writes back before the rolling restart that raises the quota.
	if d, w := strings.Index(out, "disarming NOSPACE"), strings.Index(out, "writing config"); d < 0 || w < 0 || d > w || strings.Contains(out, "not disarmed yet") {
		t.Errorf("apply output:\n%s\nwant NOSPACE disarmed before the first config write", out)
	}
	fill.recovered(t, c)
	waitHistory(t, hist, 100) // writes come back
	hist.Verify(t)
}

// TestNoSpaceLiveDataE2E: live keys, not history, fill the 160 MiB quota,
// so compaction frees nothing. With the quota unchanged the plan's disarm
// is guarded: apply compacts and defragments, then stops before the
// disarm saying to raise the quota or delete keys (exit 1, the alarm
// stays). With the quota raised in the HCL the plan raises it before the
// disarm: apply exits 0, no alarm is left, a write succeeds and every
// acknowledged key is there.
func TestNoSpaceLiveDataE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	if _, _, code := cli(t, applyArgs(t, planFile(t, config(t, st, withStorage("160MiB"))))...); code != 0 {
		t.Fatalf("apply of the 160MiB quota: exit %d", code)
	}
	c := etcdClient(t, st)
	hist := recordHistory(t, st) // before the fill, through both applies
	fill := fillToNoSpace(t, c, func(i int) string { return fmt.Sprintf("live/%03d", i) })
	leader := leaderName(t, st)

	// The quota kept: the recovery cannot free the live keys.
	p, code := planAsJSON(t, config(t, st, withStorage("160MiB")))
	if code != 2 || !p.Applicable {
		t.Fatalf("plan with the quota kept: exit %d, applicable %v, refusals %+v", code, p.Applicable, p.Refusals)
	}
	if got := actions(p); len(got) < 5 || got[0] != "compact" || !strings.HasPrefix(got[len(got)-1], "disarm-alarm ") {
		t.Fatalf("plan with the quota kept: steps %v, want compact, the defrags and the disarm", got)
	}
	for _, s := range p.Steps {
		if s.Action == "disarm-alarm" && !strings.Contains(s.Reason, "otherwise it stops before the disarm") {
			t.Errorf("disarm-alarm %s does not say it is guarded: %q", s.Member, s.Reason)
		}
	}
	_, stderr, code := cli(t, applyArgs(t, planFile(t, config(t, st, withStorage("160MiB"))))...)
	if code != 1 || !strings.Contains(stderr, "NOSPACE was not disarmed") || !strings.Contains(stderr, "Raise storage.quota_backend_bytes") {
		t.Fatalf("apply with the quota kept: exit %d, stderr:\n%s\nwant it to stop before the disarm, saying to raise the quota", code, stderr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	al, err := c.AlarmList(ctx)
	cancel()
	if err != nil || len(al.Alarms) == 0 {
		t.Fatalf("alarms after the stopped apply: %v, %v; want NOSPACE still raised", al, err)
	}

	// The quota raised: before the disarm.
	p, code = planAsJSON(t, config(t, st, withStorage("2GiB")))
	if code != 2 || !p.Applicable || len(p.Refusals) > 0 {
		t.Fatalf("plan with the quota raised: exit %d, applicable %v, refusals %+v", code, p.Applicable, p.Refusals)
	}
	quotaRaiseOrder(t, actions(p), leader)
	if t.Failed() {
		return
	}
	out, _, code := cli(t, applyArgs(t, planFile(t, config(t, st, withStorage("2GiB"))))...)
	if code != 0 {
		t.Fatalf("apply of the quota raise under NOSPACE: exit %d, want 0", code)
	}
	// Live keys fill the old quota: the early disarm waits for the one
	// after the raise.
	if !strings.Contains(out, "not disarmed yet") {
		t.Errorf("apply output:\n%s\nwant the disarm after the defrags to wait for the quota raise", out)
	}
	fill.recovered(t, c)
	waitHistory(t, hist, 100) // writes come back
	hist.Verify(t)
}

// quotaRaiseOrder checks the steps of a NOSPACE recovery with a quota
// raise: compact, a defrag of each of the 3 members with the leader last,
// the disarms (guarded by the running quota: they wait for the later ones
// when live keys fill it), the snapshot, a write-config and a restart of
// each member, then the disarms after the raise.
func quotaRaiseOrder(t *testing.T, got []string, leader string) {
	t.Helper()
	if len(got) < 10 || got[0] != "compact" {
		t.Fatalf("steps %v: want compact first", got)
	}
	var defrags []string
	i := 1
	for ; i < len(got) && strings.HasPrefix(got[i], "defrag "); i++ {
		defrags = append(defrags, strings.TrimPrefix(got[i], "defrag "))
	}
	if len(defrags) != 3 || defrags[2] != leader {
		t.Errorf("steps %v: want a defrag of each of the 3 members, the leader %s last", got, leader)
	}
	early := 0
	for ; i < len(got) && strings.HasPrefix(got[i], "disarm-alarm "); i++ {
		early++
	}
	if early == 0 {
		t.Errorf("steps %v: no disarm-alarm right after the defrags (writes come back at once when history filled the quota)", got)
	}
	if i < len(got) && got[i] == "snapshot" {
		i++
	} else {
		t.Errorf("steps %v: want the snapshot after the defrags and the disarms", got)
	}
	writes, restarts := 0, 0
	for ; i < len(got) && !strings.HasPrefix(got[i], "disarm-alarm "); i++ {
		switch a, _, _ := strings.Cut(got[i], " "); a {
		case "write-config":
			writes++
		case "restart":
			restarts++
		default:
			t.Errorf("steps %v: %s in the quota raise; want only config writes and restarts there", got, got[i])
		}
	}
	if writes != 3 || restarts != 3 {
		t.Errorf("steps %v: %d config writes and %d restarts before the disarm, want 3 of each (the quota raise)", got, writes, restarts)
	}
	disarms := 0
	for ; i < len(got); i++ {
		if !strings.HasPrefix(got[i], "disarm-alarm ") {
			t.Errorf("steps %v: %s after the disarms", got, got[i])
		}
		disarms++
	}
	if disarms == 0 {
		t.Errorf("steps %v: no disarm-alarm after the quota raise", got)
	}
}

// nospaceFill is what fillToNoSpace had acknowledged.
type nospaceFill struct {
	acked map[string]string // key -> its last acknowledged value's prefix
	// The put that fails with NOSPACE may still have been applied: etcd's
	// quota applier applies the write and then reports the space error
	// (the API-level check races the backend's size update). Its key may
	// hold either value afterwards; every other key must hold its last
	// acknowledged one.
	failedKey, failedPrefix string
}

// fillToNoSpace puts 1 MiB values under key(0), key(1), ... until etcd
// answers "database space exceeded" (at most 400), then waits until an
// alarm is raised. It does not wait for every member to raise its own
// NOSPACE: a plan made before another member raises one stays valid
// (plan.CompareSteps accepts the fresh disarm steps of such alarms, which
// the saved disarm clears too).
func fillToNoSpace(t *testing.T, c *clientv3.Client, key func(int) string) *nospaceFill {
	t.Helper()
	val := strings.Repeat("x", 1<<20)
	f := &nospaceFill{acked: map[string]string{}}
	full := false
	for i := 0; i < 400 && !full; i++ {
		k, prefix := key(i), fmt.Sprintf("%04d", i)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := c.Put(ctx, k, prefix+val[4:])
		cancel()
		switch {
		case err != nil && strings.Contains(err.Error(), "database space exceeded"):
			full = true
			f.failedKey, f.failedPrefix = k, prefix
		case err != nil:
			t.Fatalf("put %d: %v", i, err)
		default:
			f.acked[k] = prefix
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
	return f
}

// recovered checks the cluster after a NOSPACE recovery: no alarm, a write
// succeeds, and every acknowledged key holds its last acknowledged value.
func (f *nospaceFill) recovered(t *testing.T, c *clientv3.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if al, err := c.AlarmList(ctx); err != nil || len(al.Alarms) != 0 {
		t.Errorf("alarms after apply: %v, %v; want none", al, err)
	}
	if _, err := c.Put(ctx, "after-recovery", "ok"); err != nil {
		t.Errorf("a write after apply: %v", err)
	}
	for k, prefix := range f.acked {
		r, err := c.Get(ctx, k)
		if err != nil || len(r.Kvs) != 1 {
			t.Fatalf("acknowledged key %s after apply: %v, %d values; want its last acknowledged value (%s…)", k, err, len(r.Kvs), prefix)
		}
		got := string(r.Kvs[0].Value[:4])
		if got != prefix && (k != f.failedKey || got != f.failedPrefix) {
			t.Fatalf("acknowledged key %s after apply holds write %s; want its last acknowledged write %s (or %s, the write that raised NOSPACE)", k, got, prefix, f.failedPrefix)
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
