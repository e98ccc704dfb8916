package apply

import (
	"context"
	"fmt"

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
	x.ev("disarming " + s.Alarm)
	return x.etcd.AlarmDisarm(ctx, s.MemberID, s.Alarm)
}
