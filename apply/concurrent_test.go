package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

// upgradePlan is a rolling upgrade of the test cluster as the planner lays
// it out: snapshot, stage-binary on every host, upgrade-member followers
// first, the wait for the cluster version.
func upgradePlan(t *testing.T) *plan.Plan {
	src := filepath.Join(t.TempDir(), "sha256-x")
	data := []byte("an etcd binary")
	if err := os.WriteFile(src, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	up := []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: src, SHA256: hex.EncodeToString(sum[:]), Mode: 0o755}}
	obs := testObserved("h1")
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(obs)}
	p.Steps = []plan.Step{{Action: plan.Snapshot, Cluster: "lab"}}
	members := []struct {
		n  string
		id uint64
	}{{"b", 2}, {"c", 3}, {"a", 1}}
	for _, m := range members {
		p.Steps = append(p.Steps, plan.Step{Action: plan.StageBinary, Cluster: "lab", Member: m.n, MemberID: m.id, Uploads: up})
	}
	for _, m := range members {
		p.Steps = append(p.Steps, plan.Step{Action: plan.UpgradeMember, Cluster: "lab", Member: m.n, MemberID: m.id, Uploads: up})
	}
	p.Steps = append(p.Steps, plan.Step{Action: plan.WaitClusterVersion, Cluster: "lab", Version: "3.6.16", Voters: 3})
	withTargets(testConfig(), p)
	for i := range p.Steps {
		if p.Steps[i].Target != nil {
			p.Steps[i].Target.Version = "3.6.16" // what the fake reports
		}
	}
	return p
}

// allAtOnce is a barrier for n calls: each waits until all n have
// arrived, and fails if they do not arrive together within the deadline
// (they would, one after another, never meet).
func allAtOnce(n int, deadline time.Duration) func(ctx context.Context) error {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	return func(ctx context.Context) error {
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		ctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return errors.New("the other stage-binary steps did not run at the same time")
		}
	}
}

// Issue 17 bench: the stage-binary steps of an upgrade (a Concurrent
// action) run at the same time, one per host, each with its own outcome
// and audit entry in plan order; a failure on one host lets the others
// finish, names the host, and starts no further step.
func TestRunStagesConcurrently(t *testing.T) {
	for name, tc := range map[string]struct {
		failOn  string
		wantErr []string
		wantOut []string
	}{
		"every host at once": {
			wantOut: []string{"done", "done", "done", "done", "done", "done", "done", "done"},
		},
		"one host fails, the others finish": {
			failOn:  "stage-files c",
			wantErr: []string{"apply: cluster lab: step 3/8 (stage-binary c) failed (steps 2 to 4 ran at the same time); no further steps were started: staging on c: injected failure"},
			wantOut: []string{"done", "done", "failed", "done", "not started", "not started", "not started", "not started"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{leader: 1, obs: testObserved("h1"), failOn: tc.failOn, onStage: allAtOnce(3, 10*time.Second)}
			var audit bytes.Buffer
			var mu sync.Mutex
			started := map[string]bool{}
			res, err := Run(t.Context(), upgradePlan(t), fakeConn{w}, Options{
				SnapshotDir: t.TempDir(), Audit: NewAudit(&audit, "planhash", "abc", "me"), StepTimeout: 20 * time.Second,
				Progress: func(e Event) {
					mu.Lock()
					defer mu.Unlock()
					if e.Milestone == StepStarted {
						started[fmt.Sprint(e.Step)] = true
					}
				},
			})
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("apply failed: %v", err)
			case tc.wantErr != nil && err == nil:
				t.Fatal("apply succeeded")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			var outs []string
			for _, s := range res.Steps {
				outs = append(outs, s.Outcome)
			}
			if diff := cmp.Diff(tc.wantOut, outs); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			for _, n := range []string{"2", "3", "4"} {
				if !started[n] {
					t.Errorf("no start event for step %s", n)
				}
			}
			// The three stagings, in any order, then what follows them.
			i := slices.Index(w.calls, "snapshot") + 1
			stages := slices.Clone(w.calls[i : i+3])
			slices.Sort(stages)
			if diff := cmp.Diff([]string{"stage-files a", "stage-files b", "stage-files c"}, stages); diff != "" {
				t.Errorf("stagings (-want +got):\n%s", diff)
			}
			if next := w.calls[i+3]; tc.failOn == "" && next != "pregate-except 2" || tc.failOn != "" && next != "put-audit" {
				t.Errorf("after the stagings came %q; calls %q", next, w.calls)
			}
			// Each swap is given the stamps its host's staging returned.
			swaps := 0
			for _, o := range w.ops {
				if o.Op != "swap-staged" {
					continue
				}
				swaps++
				if o.From != "staged on "+o.Host {
					t.Errorf("the swap on %s was given the stamps %q", o.Host, o.From)
				}
			}
			if tc.failOn == "" && swaps != 3 {
				t.Errorf("%d swaps, want 3", swaps)
			}
			// One audit entry per staging, in plan order.
			var steps []string
			for _, l := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
				var e AuditEntry
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				if e.Kind == "step" && e.Action == "stage-binary" {
					steps = append(steps, fmt.Sprintf("%d %s %s", e.Step, e.Member, e.Outcome))
				}
			}
			want := []string{"2 b done", "3 c done", "4 a done"}
			if tc.failOn != "" {
				want[1] = "3 c failed"
			}
			if diff := cmp.Diff(want, steps); diff != "" {
				t.Errorf("audit entries of the stagings (-want +got):\n%s", diff)
			}
		})
	}
}
