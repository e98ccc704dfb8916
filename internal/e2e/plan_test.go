package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

func TestPlanE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3, Spare: 2})
	ctx := t.Context()

	t.Run("a fresh lab is converged", func(t *testing.T) {
		_, _, code := cli(t, "plan", "--detailed-exitcode", st.HCLFile())
		if code != 0 {
			t.Fatalf("plan on a fresh lab: exit %d, want 0 (no changes)", code)
		}
	})

	t.Run("quota change: one write and one restart per member, leader last", func(t *testing.T) {
		leader := leaderName(t, st)
		p, code := planAsJSON(t, config(t, st, withStorage("3GiB")))
		if code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
		var writes, restarts []string
		for _, s := range p.Steps {
			switch s.Action {
			case "write-config":
				writes = append(writes, s.Member)
				found := false
				for _, c := range s.Changes {
					if c.Attr == "quota-backend-bytes" && c.Before == "2147483648" && c.After == "3221225472" {
						found = true
					}
				}
				if !found {
					t.Errorf("write-config %s lacks the quota change: %+v", s.Member, s.Changes)
				}
			case "restart":
				restarts = append(restarts, s.Member)
			}
		}
		if len(writes) != 3 || len(restarts) != 3 {
			t.Fatalf("writes %v restarts %v, want 3 of each", writes, restarts)
		}
		if restarts[2] != leader {
			t.Errorf("restart order %v: the leader %s must be last", restarts, leader)
		}
	})

	t.Run("two new members become two learner adds in order", func(t *testing.T) {
		spares := st.Hosts[3:]
		p, code := planAsJSON(t, config(t, st, withMembers(spares...)))
		if code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
		var got []string
		for _, a := range actions(p) {
			if !strings.HasPrefix(a, "snapshot") {
				got = append(got, a)
			}
		}
		want := []string{"add-learner etcd-4", "promote etcd-4", "add-learner etcd-5", "promote etcd-5"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("steps (-want +got):\n%s", diff)
		}
	})

	t.Run("a config file edited by hand is drift", func(t *testing.T) {
		h := st.Members()[1]
		path := filepath.Join(h.Root, "etc-etcd", "etcd.conf.yml")
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(orig), "snapshot-count: 10000", "snapshot-count: 5000", 1)
		if edited == string(orig) {
			t.Fatal("could not edit the config file")
		}
		if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, orig, 0o644)
		p, code := planAsJSON(t, st.HCLFile())
		if code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
		found := false
		for _, s := range p.Steps {
			if s.Action == "write-config" && s.Member == h.Name {
				for _, c := range s.Changes {
					if c.Attr == "snapshot-count" && c.Before == "5000" && c.After == "10000" {
						found = true
					}
				}
			} else if s.Action == "write-config" {
				t.Errorf("drift reported on %s, which was not edited", s.Member)
			}
		}
		if !found {
			t.Errorf("no snapshot-count drift for %s in %+v", h.Name, p.Steps)
		}
	})

	t.Run("a killed member is marked down and recovered first", func(t *testing.T) {
		victim := st.Members()[0]
		if err := st.Fault(ctx, lab.FaultKill, victim.Name); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := st.Fault(ctx, lab.FaultStart, victim.Name); err != nil {
				t.Error(err)
			}
			labtest.Eventually(t, 30*time.Second, func() error {
				if !lab.Healthy(ctx, victim.ClientURL()) {
					return exec.ErrNotFound
				}
				return nil
			})
		}()
		p, _ := planAsJSON(t, config(t, st, withStorage("3GiB")))
		down := false
		for _, w := range p.Warnings {
			if w.Member == victim.Name && strings.Contains(strings.ToLower(w.Summary), "down") {
				down = true
			}
		}
		if !down {
			t.Errorf("no warning marks %s down: %+v", victim.Name, p.Warnings)
		}
		// Its service is merely stopped, so the plan recovers it first
		// (write its config, start it, gate) before it rolls the others.
		got := actions(p)
		if len(got) < 3 || got[1] != "write-config "+victim.Name || got[2] != "start-member "+victim.Name {
			t.Errorf("steps %v: want the down member's config written and the member started first", got)
		}
	})

	t.Run("a member whose host is cut off is refused, naming it", func(t *testing.T) {
		victim := st.Members()[2]
		if err := st.Fault(ctx, lab.FaultPartition, victim.Name); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := st.Fault(ctx, lab.FaultHeal, victim.Name); err != nil {
				t.Error(err)
			}
		}()
		p, code := planAsJSON(t, config(t, st, withStorage("3GiB")))
		if code != 1 || len(p.Refusals) == 0 || p.Applicable {
			t.Fatalf("plan with a host cut off: exit %d, refusals %+v; want exit 1 and a refusal", code, p.Refusals)
		}
		named := false
		for _, r := range p.Refusals {
			if r.Member == victim.Name || strings.Contains(r.Detail, victim.Name) {
				named = true
			}
		}
		if !named {
			t.Errorf("no refusal names %s: %+v", victim.Name, p.Refusals)
		}
	})
}
