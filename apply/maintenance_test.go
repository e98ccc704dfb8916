package apply

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func (e fakeEtcd) Compact(ctx context.Context, rev int64) error {
	return e.w.call(fmt.Sprintf("compact %d", rev))
}

func (e fakeEtcd) Defragment(ctx context.Context, id uint64) error {
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
			// The failed apply's in-cluster audit record, then the unlock.
			if i := len(w.calls) - 1; i < 2 || !cmp.Equal(w.calls[i-2:], []string{"db-sizes", "put-audit", "unlock"}) {
				t.Errorf("calls %q: want the apply to stop at the size check", w.calls)
			}
		})
	}
}
