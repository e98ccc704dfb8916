package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Compact compacts the keyspace history up to rev and waits until every
// member applied it to its backend (physical), so that a defragmentation
// that follows reclaims the space. A revision already compacted is no
// error: the history is already gone up to there. Compaction is allowed
// while NOSPACE is raised.
func (c *Client) Compact(ctx context.Context, rev int64) error {
	if rev <= 0 {
		return fmt.Errorf("etcd: compact: bad revision %d", rev)
	}
	_, err := c.cli.Compact(ctx, rev, clientv3.WithCompactPhysical())
	if err != nil && !isEtcdErr(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("etcd: compacting to revision %d: %w", rev, err)
	}
	return nil
}

// Defragment defragments the backend of member id, through its own client
// URL (defragmentation is per member, and blocks that member while it
// runs). It fails when id is not in the live member list or has no client
// URL.
func (c *Client) Defragment(ctx context.Context, id uint64) error {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return err
	}
	m, ok := findMember(ms, id)
	if !ok {
		return fmt.Errorf("etcd: defragment: member %s is not in the live member list", hexID(id))
	}
	if len(m.ClientURLs) == 0 {
		return fmt.Errorf("etcd: defragment: member %s has no client URL", m)
	}
	if _, err := c.cli.Defragment(ctx, m.ClientURLs[0]); err != nil {
		return fmt.Errorf("etcd: defragmenting %s at %s: %w", m, m.ClientURLs[0], err)
	}
	return nil
}

// AlarmDisarm disarms the alarm of type alarm ("NOSPACE") raised by
// member id, and then the same type of alarm of every other member that
// has one raised now. Members raise NOSPACE each for itself, as each
// applies the write that failed the quota check, so one may raise it after
// the plan observed the others; the recovery before a disarm step compacted
// and defragmented every member, and `etcdctl alarm disarm` likewise
// clears them all. Only the named type is touched: disarming NOSPACE never
// disarms a CORRUPT alarm.
func (c *Client) AlarmDisarm(ctx context.Context, id uint64, alarm string) error {
	t, ok := etcdserverpb.AlarmType_value[alarm]
	if !ok || t == int32(etcdserverpb.AlarmType_NONE) {
		return fmt.Errorf("etcd: disarm: unknown alarm type %q", alarm)
	}
	typ := etcdserverpb.AlarmType(t)
	if _, err := c.cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: id, Alarm: typ}); err != nil {
		return fmt.Errorf("etcd: disarming %s of member %s: %w", alarm, hexID(id), err)
	}
	list, err := c.cli.AlarmList(ctx)
	if err != nil {
		return fmt.Errorf("etcd: listing alarms after disarming %s of member %s: %w", alarm, hexID(id), err)
	}
	for _, a := range list.Alarms {
		if a.Alarm != typ {
			continue
		}
		if _, err := c.cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: a.MemberID, Alarm: typ}); err != nil {
			return fmt.Errorf("etcd: disarming %s of member %s: %w", alarm, hexID(a.MemberID), err)
		}
	}
	return nil
}

// DBSize is one member's DB size and quota, as its status reports them.
type DBSize struct {
	Member Member
	Size   int64 // dbSize
	Quota  int64 // dbSizeQuota (etcd 3.6 and later; 0 before)
}

// DBSizes asks every live member for its status, in parallel, and returns
// the DB size and quota of each that answered. Status is a read: it works
// under NOSPACE. The error names the members that did not answer.
func (c *Client) DBSizes(ctx context.Context) ([]DBSize, error) {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return nil, err
	}
	var out []DBSize
	var errs []error
	for _, st := range c.statuses(ctx, ms, true) {
		if st.Err != nil {
			errs = append(errs, fmt.Errorf("etcd: DB size of %s: %w", st.Member, st.Err))
			continue
		}
		out = append(out, DBSize{Member: st.Member, Size: st.Status.DbSize, Quota: st.Status.DbSizeQuota})
	}
	return out, errors.Join(errs...)
}
