package apply

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
)

// TestHashKVBeforeFirstRiskyStep: apply compares the members' HashKV at
// one revision before the first risky step (here before the snapshot
// that precedes the rolling restart), and a fake etcd whose members
// disagree stops it there, before any step, with a message that names
// each hash and its members.
func TestHashKVBeforeFirstRiskyStep(t *testing.T) {
	cases := map[string]struct {
		hashes    [][]MemberHash
		wantErr   []string // parts of the error; none: the apply passes
		wantCalls []string // the calls up to the snapshot
	}{
		"one member disagrees": {
			hashes: [][]MemberHash{{
				{ID: 1, Name: "a", Hash: 0x1111, CompactRevision: 5},
				{ID: 2, Name: "b", Hash: 0x1111, CompactRevision: 5},
				{ID: 3, Name: "c", Hash: 0xbad, CompactRevision: 5},
			}},
			wantErr: []string{"before step 1/7 (snapshot cluster lab), ahead of the first risky step; no further steps were started",
				"members' HashKV differ at revision 100 (from compaction revision 5): 00000bad on c; 00001111 on a, b"},
			wantCalls: []string{"lock", "hashkv-before", "put-audit", "unlock"},
		},
		"a member that does not answer is left out": {
			hashes: [][]MemberHash{{
				{ID: 1, Name: "a", Hash: 0x1111, CompactRevision: 5},
				{ID: 2, Name: "b", Hash: 0x1111, CompactRevision: 5},
				{ID: 3, Name: "c", Err: errors.New("context deadline exceeded")},
			}},
			wantCalls: []string{"lock", "hashkv-before", "snapshot"},
		},
		"a compaction between two requests: asked again": {
			hashes: [][]MemberHash{
				{{ID: 1, Name: "a", Hash: 0x1111, CompactRevision: 5}, {ID: 2, Name: "b", Hash: 0x2222, CompactRevision: 7}, {ID: 3, Name: "c", Hash: 0x2222, CompactRevision: 7}},
				{{ID: 1, Name: "a", Hash: 0x2222, CompactRevision: 7}, {ID: 2, Name: "b", Hash: 0x2222, CompactRevision: 7}, {ID: 3, Name: "c", Hash: 0x2222, CompactRevision: 7}},
			},
			wantCalls: []string{"lock", "hashkv-before", "hashkv-before", "snapshot"},
		},
		"members that disagree at the same compaction, after the retries": {
			hashes: [][]MemberHash{
				{{ID: 1, Name: "a", Hash: 0x1111, CompactRevision: 5}, {ID: 2, Name: "b", Hash: 0x2222, CompactRevision: 7}, {ID: 3, Name: "c", Hash: 0x3333, CompactRevision: 7}},
			},
			wantErr:   []string{"00002222 on b; 00003333 on c; not compared: a (compaction revision 5)"},
			wantCalls: []string{"lock", "hashkv-before", "hashkv-before", "hashkv-before", "put-audit", "unlock"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obs := testObserved("h1")
			w := &fakeWorld{leader: 1, obs: obs, hashes: tc.hashes}
			audit := NewAudit(io.Discard, "planhash", "abc", "me")
			res, err := Run(t.Context(), withTargets(testConfig(), rollingPlan(obs)), fakeConn{w}, Options{
				SnapshotDir: t.TempDir(), Audit: audit, Now: func() time.Time { return time.Unix(0, 0) }})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("apply failed: %v", err)
				}
				if diff := cmp.Diff(tc.wantCalls, w.calls[:len(tc.wantCalls)]); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, ErrMembersDiffer) {
				t.Fatalf("err %v, want ErrMembersDiffer", err)
			}
			for _, part := range tc.wantErr {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q\nlacks %q", err, part)
				}
			}
			if diff := cmp.Diff(tc.wantCalls, w.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			for i, r := range res.Steps {
				if r.Outcome != "not started" {
					t.Errorf("step %d ran: %s", i+1, r.Outcome)
				}
			}
			var recorded bool
			for _, e := range audit.Entries() {
				recorded = recorded || e.Kind == "hashkv" && e.Outcome == "failed" && strings.Contains(e.Error, "HashKV differ")
			}
			if !recorded {
				t.Errorf("no failed hashkv entry in the audit: %+v", audit.Entries())
			}
		})
	}
}

// hashCheckAt puts the comparison before the first risky step, or the
// snapshot before it, and nowhere in a plan with no risky step or one
// that bootstraps or recovers from a lost quorum.
func TestHashCheckAt(t *testing.T) {
	steps := func(as ...plan.Action) *plan.Plan {
		p := &plan.Plan{}
		for _, a := range as {
			p.Steps = append(p.Steps, plan.Step{Action: a})
		}
		return p
	}
	cases := map[string]struct {
		p    *plan.Plan
		want int
	}{
		"snapshot, then restarts":   {steps(plan.Snapshot, plan.WriteConfig, plan.Restart, plan.Restart), 0},
		"uploads, then a restart":   {steps(plan.UploadFile, plan.WriteConfig, plan.Restart), 2},
		"maintenance, then risky":   {steps(plan.Compact, plan.Defrag, plan.Snapshot, plan.UpgradeMember), 2},
		"maintenance only":          {steps(plan.Compact, plan.Defrag, plan.DisarmAlarm), -1},
		"a new cluster":             {steps(plan.InstallBinary, plan.BootstrapStart, plan.BootstrapStart), -1},
		"recovery from a survivor":  {steps(plan.StopMember, plan.RecoverSurvivor, plan.AddLearner), -1},
		"a learner added, promoted": {steps(plan.AddLearner, plan.Promote), 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			idx := make([]int, len(tc.p.Steps))
			for i := range idx {
				idx[i] = i
			}
			if got := hashCheckAt(tc.p, idx); got != tc.want {
				t.Errorf("hashCheckAt = %d, want %d", got, tc.want)
			}
		})
	}
}
