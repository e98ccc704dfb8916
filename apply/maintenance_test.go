package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

func (e fakeEtcd) Compact(ctx context.Context, rev int64) error {
	return e.w.call(fmt.Sprintf("compact %d", rev))
}

func (e fakeEtcd) Defragment(ctx context.Context, id uint64) error {
	if d, ok := ctx.Deadline(); ok {
		e.w.defragBudget = time.Until(d)
	}
	return e.w.call(fmt.Sprintf("defrag %d", id))
}

func (e fakeEtcd) AlarmDisarm(ctx context.Context, id uint64, alarm string) error {
	return e.w.call(fmt.Sprintf("disarm %d %s", id, alarm))
}

func (e fakeEtcd) DBSizes(ctx context.Context) ([]MemberDB, error) {
	return e.w.dbs, e.w.call("db-sizes")
}

// Issue 15: a NOSPACE disarm goes ahead only when every member's DB keeps
// the planner's quota margin (64 MiB here) below the quota it runs with (the one etcd reports; the step's
// when etcd reports none). When live data still fills it, apply stops
// before the disarm, says how to get out, and disarms nothing.
func TestDisarmChecksSpace(t *testing.T) {
	const mib = 1 << 20
	for name, tc := range map[string]struct {
		dbs     []MemberDB
		wantErr string
	}{
		"history freed": {dbs: []MemberDB{{Name: "a", Size: 20 * mib, Quota: 160 * mib}, {Name: "b", Size: 96 * mib, Quota: 160 * mib}}},
		"live data fills the quota": {dbs: []MemberDB{{Name: "a", Size: 20 * mib, Quota: 160 * mib}, {Name: "b", Size: 150 * mib, Quota: 160 * mib}},
			wantErr: "b: 150.0 MiB, above 96.0 MiB (its 160.0 MiB quota less the margin"},
		"the quota raised before the disarm": {dbs: []MemberDB{{Name: "b", Size: 150 * mib, Quota: 2048 * mib}}},
		"etcd reports no quota: the step's":  {dbs: []MemberDB{{Name: "b", Size: 150 * mib}}, wantErr: "b: 150.0 MiB, above 96.0 MiB"},
	} {
		t.Run(name, func(t *testing.T) {
			obs := testObserved("h1")
			p := nospacePlan(obs)
			w := &fakeWorld{leader: 1, obs: obs, dbs: tc.dbs}
			_, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{SnapshotDir: t.TempDir()})
			disarmed := strings.Contains(strings.Join(w.calls, ","), "disarm ")
			if tc.wantErr == "" {
				if err != nil || !disarmed {
					t.Fatalf("err %v, disarmed %v; want the disarm to go ahead", err, disarmed)
				}
				return
			}
			for _, want := range []string{tc.wantErr, "NOSPACE was not disarmed", "Raise storage.quota_backend_bytes", "delete keys"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err %v, want it to say %q", err, want)
				}
			}
			if disarmed {
				t.Errorf("calls %q: disarmed although the DB fills the quota", w.calls)
			}
			// The failed apply's in-cluster audit record, then the unlock
			// (and that of the host locks a plan made under NOSPACE takes
			// beside the in-cluster lock).
			calls := w.calls
			for len(calls) > 0 && strings.HasPrefix(calls[len(calls)-1], "host-unlock ") {
				calls = calls[:len(calls)-1]
			}
			if i := len(calls) - 1; i < 2 || !cmp.Equal(calls[i-2:], []string{"db-sizes", "put-audit", "unlock"}) {
				t.Errorf("calls %q: want the apply to stop at the size check", w.calls)
			}
		})
	}
}

// Options.Verify is given the observation under the lock, after the
// stale-plan check; an error stops the apply before any step, as
// ErrPlanDiffers.
func TestRunVerifiesUnderTheLock(t *testing.T) {
	obs := testObserved("h1")
	for _, fail := range []bool{false, true} {
		w := &fakeWorld{leader: 1, obs: obs}
		var got *state.Observed
		verify := func(_ context.Context, cluster string, o *state.Observed) error {
			w.calls = append(w.calls, "verify "+cluster)
			got = o
			if fail {
				return errors.New("step 2 (write-config b): the config to write differs")
			}
			return nil
		}
		_, err := Run(context.Background(), withTargets(testConfig(), rollingPlan(obs)), fakeConn{w}, Options{SnapshotDir: t.TempDir(), Verify: verify})
		if got != obs {
			t.Errorf("Verify was given %p, want apply's observation %p", got, obs)
		}
		if !fail {
			if err != nil || len(w.calls) < 4 || !cmp.Equal(w.calls[:4], []string{"lock", "verify lab", "hashkv-before", "snapshot"}) {
				t.Errorf("err %v, calls %q: want lock, verify, then the steps", err, w.calls)
			}
			continue
		}
		if !errors.Is(err, ErrPlanDiffers) || !strings.Contains(err.Error(), "the config to write differs") {
			t.Errorf("err %v, want ErrPlanDiffers with Verify's reason", err)
		}
		steps := slices.DeleteFunc(slices.Clone(w.calls), func(c string) bool { return c == "put-audit" }) // the audit record of a failed apply
		if want := []string{"lock", "verify lab", "unlock"}; !cmp.Equal(steps, want) {
			t.Errorf("calls %q, want %q: no step", w.calls, want)
		}
	}
}

// Issue 15 #4: a defrag's time bound is the step timeout plus its
// member's DB size at 8 MiB/s (a defragmentation rewrites the whole file):
// 480 MiB add a minute.
func TestDefragTimeoutScalesWithDBSize(t *testing.T) {
	for size, want := range map[int64]time.Duration{0: time.Minute, 480 << 20: 2 * time.Minute} {
		w := &fakeWorld{leader: 1, obs: testObserved("h1"), dbs: []MemberDB{{Name: "b", ID: 2, Size: size}, {Name: "c", ID: 3, Size: 8 << 30}}}
		p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(w.obs),
			Steps: []plan.Step{{Action: plan.Defrag, Cluster: "lab", Member: "b", MemberID: 2}}}
		if _, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{StepTimeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if got := w.defragBudget; got > want || got < want-5*time.Second {
			t.Errorf("a DB of %d bytes: the defrag had %s, want about %s", size, got, want)
		}
	}
}

// A plan that raises the quota disarms twice: right after the defrags
// (guarded by the running quota) and after the raise. When live keys fill
// the running quota the first disarm waits for the second instead of
// failing the apply; the second one disarms.
func TestEarlyDisarmWaitsForTheRaise(t *testing.T) {
	const mib = 1 << 20
	obs := testObserved("h1")
	p := nospacePlan(obs)
	late := p.Steps[3]
	late.Quota = 2048 * mib
	p.Steps = append(p.Steps, late)
	w := &fakeWorld{leader: 1, obs: obs, dbs: []MemberDB{{Name: "b", Size: 150 * mib}}}
	var events []string
	_, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{SnapshotDir: t.TempDir(),
		Progress: func(e Event) { events = append(events, fmt.Sprintf("%d %s", e.Step, e.Phase)) }})
	if err != nil {
		t.Fatalf("apply: %v; want the early disarm to wait and the late one to disarm", err)
	}
	var disarms []int
	for i, c := range w.calls {
		if strings.HasPrefix(c, "disarm ") {
			disarms = append(disarms, i)
		}
	}
	if len(disarms) != 1 || !slices.Contains(w.calls[disarms[0]:], "hashkv") || !slices.Contains(w.calls[:disarms[0]], "restart b") {
		t.Errorf("calls %q: want one disarm, after the restart that raises the quota", w.calls)
	}
	if !slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "4 not disarmed yet") }) {
		t.Errorf("events %q: want step 4 to say it waits for the disarm after the raise", events)
	}
}
