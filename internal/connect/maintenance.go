package connect

import "context"

// The maintenance operations (compact, defrag and disarm-alarm steps).

func (e *etcdAdapter) Compact(ctx context.Context, rev int64) error { return e.cli.Compact(ctx, rev) }

func (e *etcdAdapter) Defragment(ctx context.Context, id uint64) error {
	return e.cli.Defragment(ctx, id)
}

func (e *etcdAdapter) AlarmDisarm(ctx context.Context, id uint64, alarm string) error {
	return e.cli.AlarmDisarm(ctx, id, alarm)
}
