package etcd

import (
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
)

// TestMaintenance runs the maintenance operations against a real cluster:
// compaction (again to the same revision: no error), defragmentation of
// each member, and disarming a NOSPACE alarm.
func TestMaintenance(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 30*time.Second)
	kv := c.Raw()
	val := strings.Repeat("x", 4096)
	var rev int64
	for i := range 200 {
		r, err := kv.Put(ctx, "k", val+string(rune('a'+i%26)))
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}
	if err := c.Compact(ctx, rev); err != nil {
		t.Fatalf("compact: %v", err)
	}
	if _, err := kv.Get(ctx, "k", clientv3.WithRev(rev-1)); err == nil || !strings.Contains(err.Error(), rpctypes.ErrCompacted.Error()) {
		t.Errorf("get at revision %d after compacting to %d: %v, want it compacted", rev-1, rev, err)
	}
	if err := c.Compact(ctx, rev); err != nil {
		t.Errorf("compacting again to the same revision: %v, want no error", err)
	}
	ms, _, err := c.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := c.Defragment(ctx, m.ID); err != nil {
			t.Errorf("defragment %s: %v", m, err)
		}
	}
	if err := c.Defragment(ctx, 0xdead); err == nil {
		t.Error("defragmenting a member not in the list: no error")
	}
	// Each member's DB size and the quota it runs with (etcd's default
	// 2 GiB here), as the NOSPACE disarm's guard reads them.
	sizes, err := c.DBSizes(ctx)
	if err != nil || len(sizes) != len(ms) {
		t.Fatalf("DBSizes: %v, %d entries; want one per member", err, len(sizes))
	}
	for _, s := range sizes {
		if s.Size <= 0 || s.Size > 64<<20 || s.Quota != 2<<30 {
			t.Errorf("DBSizes: %s: size %d, quota %d; want a few MiB under etcd's default 2 GiB quota", s.Member, s.Size, s.Quota)
		}
	}

	// NOSPACE on two members (the second raised after the plan saw the
	// first) and CORRUPT on a third: disarming the first's NOSPACE clears
	// both NOSPACE alarms and leaves CORRUPT raised.
	mc := etcdserverpb.NewMaintenanceClient(kv.ActiveConnection())
	raise := func(id uint64, typ etcdserverpb.AlarmType) {
		t.Helper()
		if _, err := mc.Alarm(ctx, &etcdserverpb.AlarmRequest{Action: etcdserverpb.AlarmRequest_ACTIVATE, MemberID: id, Alarm: typ}); err != nil {
			t.Fatal(err)
		}
	}
	if len(ms) < 3 {
		t.Fatalf("%d members, want 3", len(ms))
	}
	raise(ms[0].ID, etcdserverpb.AlarmType_NOSPACE)
	raise(ms[1].ID, etcdserverpb.AlarmType_NOSPACE)
	raise(ms[2].ID, etcdserverpb.AlarmType_CORRUPT)
	if err := c.AlarmDisarm(ctx, ms[0].ID, "NOSPACE"); err != nil {
		t.Fatalf("disarm: %v", err)
	}
	al, err := kv.AlarmList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(al.Alarms) != 1 || al.Alarms[0].Alarm != etcdserverpb.AlarmType_CORRUPT || al.Alarms[0].MemberID != ms[2].ID {
		t.Errorf("alarms after disarming NOSPACE: %v, want only the CORRUPT of %s", al.Alarms, ms[2])
	}
	if _, err := mc.Alarm(ctx, &etcdserverpb.AlarmRequest{Action: etcdserverpb.AlarmRequest_DEACTIVATE, MemberID: ms[2].ID, Alarm: etcdserverpb.AlarmType_CORRUPT}); err != nil {
		t.Fatal(err)
	}
	if err := c.AlarmDisarm(ctx, ms[0].ID, "BOGUS"); err == nil {
		t.Error("disarming an unknown alarm type: no error")
	}
}
