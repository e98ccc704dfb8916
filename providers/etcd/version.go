package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// MemberVersions is what one member reports of its versions in its
// status: the server (its binary: "3.6.16") and the storage version of its
// backend ("3.6.0"; etcd 3.5 reports none, "" — its backend is 3.5's by
// etcd's own rule, server/storage/schema: no storageVersion key).
type MemberVersions struct {
	Member    Member
	Server    string
	Storage   string
	Downgrade string // the downgrade target the member reports enabled ("3.5.0"), "" for none (3.5 reports none)
	Err       error  // the member did not answer; the versions are then ""
}

// Versions is a fresh read of the cluster's versions: the cluster version
// (the "etcdcluster" field of the leader's /version: the version the
// cluster runs at, "3.6.0") and each live member's.
type Versions struct {
	Cluster string
	Members []MemberVersions
}

// Versions reads the member list, every member's status (fresh) and the
// cluster version from the leader's /version.
func (c *Client) Versions(ctx context.Context) (Versions, error) {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return Versions{}, err
	}
	var out Versions
	var leaderEP string
	sts := c.statuses(ctx, ms, true)
	leader := leaderOf(sts)
	for _, s := range sts {
		mv := MemberVersions{Member: s.Member, Err: s.Err}
		if s.Err == nil {
			mv.Server, mv.Storage = s.Status.Version, s.Status.StorageVersion
			if d := s.Status.DowngradeInfo; d != nil && d.Enabled {
				mv.Downgrade = d.TargetVersion
			}
			if s.Member.ID == leader {
				leaderEP = s.Endpoint
			}
		}
		out.Members = append(out.Members, mv)
	}
	if leaderEP == "" {
		return out, fmt.Errorf("%w: the cluster version is read from the leader", ErrNoLeader)
	}
	if out.Cluster, err = c.clusterVersion(ctx, leaderEP); err != nil {
		return out, err
	}
	return out, nil
}

// DowngradeOp is one of etcd's downgrade requests (clientv3
// Maintenance.Downgrade, `etcdctl downgrade validate|enable|cancel`).
type DowngradeOp int

const (
	// DowngradeValidate asks whether the cluster can be downgraded to the
	// version (one minor below the cluster version); it changes nothing.
	DowngradeValidate DowngradeOp = iota + 1
	// DowngradeEnable starts the downgrade: the cluster version becomes
	// the target at once and each member migrates its storage to it;
	// members of the target version may then join.
	DowngradeEnable
	// DowngradeCancel ends an enabled downgrade.
	DowngradeCancel
)

// ErrDowngradeOp is an unknown DowngradeOp.
var ErrDowngradeOp = errors.New("etcd: unknown downgrade request")

// ErrDowngradeRefused wraps etcd's refusal of a downgrade request (a
// target that is not the minor below the cluster version, a downgrade
// already enabled, none to cancel, a member that cannot downgrade): the
// request did not take effect. Other errors (a timeout, no leader) leave
// it unknown whether it did.
var ErrDowngradeRefused = errors.New("etcd: downgrade request refused")

// Downgrade sends a downgrade request for the target version ("3.5"; any
// patch is dropped, etcd asks for major.minor) and returns the cluster
// version etcd answered with.
func (c *Client) Downgrade(ctx context.Context, op DowngradeOp, target string) (string, error) {
	var a clientv3.DowngradeAction
	name := ""
	switch op {
	case DowngradeValidate:
		a, name = clientv3.DowngradeValidate, "validate"
	case DowngradeEnable:
		a, name = clientv3.DowngradeEnable, "enable"
	case DowngradeCancel:
		a, name = clientv3.DowngradeCancel, "cancel"
	default:
		return "", fmt.Errorf("%w: %d", ErrDowngradeOp, op)
	}
	resp, err := c.cli.Downgrade(ctx, a, target)
	if err != nil {
		if _, ok := rpctypes.Error(err).(rpctypes.EtcdError); ok {
			if c := status.Code(err); c == codes.FailedPrecondition || c == codes.InvalidArgument {
				return "", fmt.Errorf("%w: downgrade %s %s: %w", ErrDowngradeRefused, name, target, err)
			}
		}
		return "", fmt.Errorf("etcd: downgrade %s %s: %w", name, target, err)
	}
	return resp.Version, nil
}
