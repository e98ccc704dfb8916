package connect

import (
	"context"

	"github.com/etcdform/etcdform/apply"
)

// The maintenance operations (compact, defrag and disarm-alarm steps).

func (e *etcdAdapter) Compact(ctx context.Context, rev int64) error { return e.cli.Compact(ctx, rev) }

func (e *etcdAdapter) Defragment(ctx context.Context, id uint64) error {
	return e.cli.Defragment(ctx, id)
}

func (e *etcdAdapter) AlarmDisarm(ctx context.Context, id uint64, alarm string) error {
	return e.cli.AlarmDisarm(ctx, id, alarm)
}

func (e *etcdAdapter) DBSizes(ctx context.Context) ([]apply.MemberDB, error) {
	sizes, err := e.cli.DBSizes(ctx)
	out := make([]apply.MemberDB, 0, len(sizes))
	for _, s := range sizes {
		out = append(out, apply.MemberDB{Name: s.Member.Name, ID: s.Member.ID, Size: s.Size, Quota: s.Quota})
	}
	return out, err
}
