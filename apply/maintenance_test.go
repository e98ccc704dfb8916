package apply

import (
	"context"
	"fmt"
)

func (e fakeEtcd) Compact(ctx context.Context, rev int64) error {
	return e.w.call(fmt.Sprintf("compact %d", rev))
}

func (e fakeEtcd) Defragment(ctx context.Context, id uint64) error {
	return e.w.call(fmt.Sprintf("defrag %d", id))
}

func (e fakeEtcd) AlarmDisarm(ctx context.Context, id uint64, alarm string) error {
	return e.w.call(fmt.Sprintf("disarm %d %s", id, alarm))
}
