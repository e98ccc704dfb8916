package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcdform/etcdform/plan/model"
)

// versionPoll is how often the version waits read the members' versions.
const versionPoll = 200 * time.Millisecond

// minorOf returns the minor of a version: "3.5" of "3.5.35" or "3.5.0";
// "" for a version with fewer than two parts.
func minorOf(v string) string {
	p := strings.SplitN(v, ".", 3)
	if len(p) < 2 || p[0] == "" || p[1] == "" {
		return ""
	}
	return p[0] + "." + p[1]
}

// stepMinor is the minor of the version a cluster-wide version step names.
func stepMinor(s model.Step) (string, error) {
	m := minorOf(s.Version)
	if m == "" {
		return "", fmt.Errorf("%s: the step names no version (plan again with this etcdform)", s.Action)
	}
	return m, nil
}

// downgradeValidate asks etcd whether the cluster can be downgraded to the
// step's minor (`etcdctl downgrade validate`); it changes nothing.
func (x *executor) downgradeValidate(ctx context.Context, s model.Step) error {
	minor, err := stepMinor(s)
	if err != nil {
		return err
	}
	x.ev("downgrade validate " + minor)
	if err := x.etcd.Downgrade(ctx, DowngradeValidate, minor); err != nil {
		return fmt.Errorf("etcd refused the downgrade to %s (downgrade validate); nothing was changed: %w", minor, err)
	}
	return nil
}

// downgradeEnable enables the downgrade to the step's minor (`etcdctl
// downgrade enable`) and waits until every member reports that storage
// version, as etcd's downgrade guide asks before the first binary is
// replaced. From the request on, a failed step makes runCluster cancel
// the downgrade while versions are mixed (cancelDowngrade): a request
// whose answer was lost may have taken effect.
func (x *executor) downgradeEnable(ctx context.Context, s model.Step) error {
	minor, err := stepMinor(s)
	if err != nil {
		return err
	}
	x.ev("downgrade enable " + minor)
	if err := x.etcd.Downgrade(ctx, DowngradeEnable, minor); err != nil {
		if !errors.Is(err, ErrDowngradeRefused) {
			// It may have taken effect: cancel it if so.
			x.downgrade = minor
		}
		return fmt.Errorf("downgrade enable %s: %w", minor, err)
	}
	x.downgrade = minor
	want := minor + ".0"
	x.ev("waiting until every member reports storage version " + want)
	var last string
	for {
		v, err := x.etcd.Versions(ctx)
		var behind []string
		for _, m := range v.Members {
			if m.Err != "" || minorOf(m.Storage) != minor {
				behind = append(behind, fmt.Sprintf("%s %s", memberName(m), orDash(m.Storage, m.Err)))
			}
		}
		if err == nil && len(behind) == 0 && len(v.Members) > 0 {
			x.ev(fmt.Sprintf("storage version %s on every member (%d), cluster version %s", want, len(v.Members), v.Cluster))
			return nil
		}
		last = strings.Join(behind, ", ")
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not every member reported storage version %s after downgrade enable (last: %s): %w", want, last, ctx.Err())
		case <-time.After(versionPoll):
		}
	}
}

// waitClusterVersion waits until the cluster version is the step's minor
// and every member reports the step's version, then checks the live member
// list against the plan: the step's voter count, and no learner (a
// version change is planned only without learners, and none may appear).
func (x *executor) waitClusterVersion(ctx context.Context, s model.Step) error {
	minor, err := stepMinor(s)
	if err != nil {
		return err
	}
	x.ev(fmt.Sprintf("waiting for cluster version %s.0 and etcd %s on every member", minor, s.Version))
	var last string
	for {
		v, err := x.etcd.Versions(ctx)
		var off []string
		for _, m := range v.Members {
			if m.Err != "" || m.Server != s.Version {
				off = append(off, fmt.Sprintf("%s runs %s", memberName(m), orDash(m.Server, m.Err)))
			}
		}
		if err == nil && minorOf(v.Cluster) == minor && len(off) == 0 && len(v.Members) > 0 {
			x.ev(fmt.Sprintf("cluster version %s, etcd %s on every member", v.Cluster, s.Version))
			return checkVoters(v, s.Voters)
		}
		switch {
		case err != nil:
			last = err.Error()
		case len(off) > 0:
			last = strings.Join(off, ", ")
		default:
			last = "cluster version " + v.Cluster
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster did not reach version %s.0 with etcd %s on every member (last: %s): %w", minor, s.Version, last, ctx.Err())
		case <-time.After(versionPoll):
		}
	}
}

// checkVoters checks the learner flags of the live member list after a
// version change: no learner, and as many voters as the plan had.
func checkVoters(v ClusterVersions, voters int) error {
	var learners []string
	n := 0
	for _, m := range v.Members {
		if m.IsLearner {
			learners = append(learners, memberName(m))
		} else {
			n++
		}
	}
	if len(learners) > 0 {
		return fmt.Errorf("after the version change the member list holds the learner %s, and the plan had none", strings.Join(learners, ", "))
	}
	if voters > 0 && n != voters {
		return fmt.Errorf("after the version change the member list holds %d voters, and the plan had %d", n, voters)
	}
	return nil
}

// cancelDowngrade runs after a failed or interrupted step. When this apply
// enabled a downgrade and a member still runs a version of another minor
// than its target (the cluster is mixed, or no member was replaced yet),
// it sends `downgrade cancel`, as etcd's downgrade guide says for a
// failure while versions are mixed, and returns what to tell the operator
// (appended to the step's error); "" when no downgrade was enabled.
func (x *executor) cancelDowngrade(ctx context.Context, cluster string) string {
	if x.downgrade == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	v, verr := x.etcd.Versions(ctx)
	var newer, done []string
	for _, m := range v.Members {
		if m.Err == "" && minorOf(m.Server) == x.downgrade {
			done = append(done, memberName(m))
		} else {
			newer = append(newer, memberName(m))
		}
	}
	if verr == nil && len(newer) == 0 && len(done) > 0 {
		return fmt.Sprintf("; every member runs %s already, so the downgrade was not cancelled: plan again to finish it", x.downgrade)
	}
	x.ev("sending downgrade cancel (a step failed while versions are mixed)")
	if err := x.etcd.Downgrade(ctx, DowngradeCancel, x.downgrade); err != nil {
		x.opts.Audit.Record(AuditEntry{Kind: "downgrade-cancel", Cluster: cluster, Time: x.opts.Now(), Outcome: "failed", Error: err.Error()})
		return fmt.Sprintf("; the downgrade to %s stays enabled: downgrade cancel failed (run etcdctl downgrade cancel by hand): %v", x.downgrade, err)
	}
	x.opts.Audit.Record(AuditEntry{Kind: "downgrade-cancel", Cluster: cluster, Time: x.opts.Now(), Outcome: "done"})
	x.ev("downgrade cancelled")
	msg := fmt.Sprintf("; etcdform sent downgrade cancel, as etcd's downgrade guide says for a failure while versions are mixed: the downgrade to %s is no longer enabled", x.downgrade)
	if len(done) > 0 {
		msg += fmt.Sprintf("; %s already run %s: set etcd_version back to the version the others run and plan again (the plan restarts them on it), or put back their previous binaries (PATH.bak) by hand", strings.Join(done, ", "), x.downgrade)
	}
	return msg
}

func memberName(m MemberVersions) string {
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("member %x", m.ID)
}

func orDash(v, err string) string {
	switch {
	case err != "":
		return "(" + err + ")"
	case v == "":
		return "(none)"
	}
	return v
}
