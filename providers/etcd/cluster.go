package etcd

import (
	"context"
	"io"
	"time"

	"github.com/etcdform/etcdform/plan"
)

// Cluster is what apply needs of one cluster's etcd API; *Client is the
// implementation. Each method's doc on Client lists its errors.
type Cluster interface {
	Observe(ctx context.Context) *plan.ObservedCluster
	Members(ctx context.Context) ([]Member, uint64, error)
	Leader(ctx context.Context) (uint64, []Member, error)

	AddLearner(ctx context.Context, peerURL string) (uint64, []Member, error)
	Promote(ctx context.Context, id uint64) error
	Remove(ctx context.Context, id uint64) error
	MoveLeader(ctx context.Context, target uint64) error
	PickTransferee(ctx context.Context, exclude uint64) (uint64, error)

	Gate(ctx context.Context, opts GateOptions) (*GateReport, error)
	WaitHealthy(ctx context.Context, opts GateOptions) (*GateReport, error)
	WaitLearnerCaughtUp(ctx context.Context, id uint64) error

	HashKVAll(ctx context.Context) (map[uint64]uint32, int64, error)
	CheckConsistent(ctx context.Context) error
	Snapshot(ctx context.Context, endpoint string, w io.Writer) (SnapshotInfo, error)

	Lock(ctx context.Context, cluster string, ttl time.Duration) (*Lock, error)
	PutAudit(ctx context.Context, key string, value []byte) error
	Close() error
}

var _ Cluster = (*Client)(nil)
