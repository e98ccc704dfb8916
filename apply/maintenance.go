package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/plan/model"
)

// The maintenance steps: compact, defrag and disarm-alarm. They act
// through the etcd API alone (no host), and work while NOSPACE is raised.

func (x *executor) compact(ctx context.Context, s model.Step) error {
	if s.Revision <= 0 {
		return fmt.Errorf("compact %s: the step names no revision (plan again with this etcdform)", s.Cluster)
	}
	x.ev(fmt.Sprintf("compacting to revision %d", s.Revision))
	return x.etcd.Compact(ctx, s.Revision)
}

func (x *executor) defrag(ctx context.Context, s model.Step) error {
	id, err := x.memberID(ctx, s)
	if err != nil {
		return err
	}
	x.ev("defragmenting")
	if err := x.etcd.Defragment(ctx, id); err != nil {
		return fmt.Errorf("defragmenting %s: %w", memberLabel(s), err)
	}
	x.ev("defragmented")
	return nil
}

// disarmAlarm disarms the step's alarm. Only NOSPACE is ever disarmed: a
// CORRUPT alarm means a member's data differs from the others', and
// disarming it would hide that (the planner refuses such a plan).
func (x *executor) disarmAlarm(ctx context.Context, s model.Step) error {
	if s.Alarm != "NOSPACE" {
		return fmt.Errorf("disarm-alarm %s: etcdform disarms only NOSPACE, not %q", memberLabel(s), s.Alarm)
	}
	if s.MemberID == 0 {
		return fmt.Errorf("disarm-alarm: the step names no member ID (plan again with this etcdform)")
	}
	if err := x.checkSpace(ctx, s); err != nil {
		if slices.Contains(x.laterDisarms, s.Alarm) {
			// The plan raises the quota and disarms again after the
			// raise: live keys fill the old quota, so this early disarm
			// (for the common case, history) waits for that one.
			x.ev("not disarmed yet: the database still fills the current quota; the disarm after the quota raise clears the alarm")
			return nil
		}
		return err
	}
	x.ev("disarming " + s.Alarm)
	return x.etcd.AlarmDisarm(ctx, s.MemberID, s.Alarm)
}

// checkSpace is a NOSPACE disarm's guard (Step.Quota): every member's DB,
// as it reports it now (after the recovery's compaction and
// defragmentation, and a quota raise the plan put before the disarm), must
// keep model.QuotaMargin below the quota it runs with (the one it
// reports; the step's when it reports none): model.DisarmLimit. Otherwise disarming is no
// recovery: the live data fills the quota, and the next writes would raise
// NOSPACE again. Apply stops before the disarm, saying the way out.
func (x *executor) checkSpace(ctx context.Context, s model.Step) error {
	x.ev("checking the DB sizes against the quota")
	sizes, err := x.etcd.DBSizes(ctx)
	if err != nil {
		return fmt.Errorf("NOSPACE was not disarmed: the DB sizes could not be read to check the recovery freed enough: %w", err)
	}
	var over []string
	for _, m := range sizes {
		quota := m.Quota
		if quota <= 0 {
			quota = s.Quota
		}
		if quota <= 0 {
			continue // a plan made before the guard
		}
		if lim := model.DisarmLimit(quota); m.Size > lim {
			over = append(over, fmt.Sprintf("%s: %s, above %s (its %s quota less the margin any quota keeps: the larger of 64 MiB and 10%% of the DB)", m.Name, mib(m.Size), mib(lim), mib(quota)))
		}
	}
	if len(over) == 0 {
		return nil
	}
	return fmt.Errorf("NOSPACE was not disarmed: after the compaction and defragmentation the database still fills the quota, so the next writes would raise NOSPACE again (live keys, not history, take the space):\n  - %s\nThe alarm stays raised and the cluster refuses writes. Raise storage.quota_backend_bytes in the configuration (the plan then raises it before the disarm), or delete keys (etcdctl del) you can spare, and plan again", strings.Join(over, "\n  - "))
}

// mib renders a byte count in MiB: "143.9 MiB".
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
