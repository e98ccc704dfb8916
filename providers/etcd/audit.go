package etcd

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// AuditPrefix is where in-cluster audit summaries live:
// AuditPrefix + "<cluster>/<time>".
const AuditPrefix = "/etcdform/audit/"

// PutAudit stores an audit summary at key, which must lie under
// AuditPrefix. Errors: ErrAuditKey, or the write's error.
func (c *Client) PutAudit(ctx context.Context, key string, value []byte) error {
	if !strings.HasPrefix(key, AuditPrefix) || len(key) == len(AuditPrefix) {
		return fmt.Errorf("%w: %q", ErrAuditKey, key)
	}
	if _, err := c.cli.Put(ctx, key, string(value)); err != nil {
		return fmt.Errorf("etcd: writing audit record %s: %w", key, err)
	}
	return nil
}

// AuditKV is one stored audit record: its key and exact bytes.
type AuditKV struct {
	Key   string
	Value []byte
}

// AuditRecords returns every key under AuditPrefix + cluster + "/", in key
// order, with its exact stored bytes (a linearizable read).
func (c *Client) AuditRecords(ctx context.Context, cluster string) ([]AuditKV, error) {
	pfx := AuditPrefix + cluster + "/"
	resp, err := c.cli.Get(ctx, pfx, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("etcd: reading the audit records of %s: %w", cluster, err)
	}
	out := make([]AuditKV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, AuditKV{Key: string(kv.Key), Value: kv.Value})
	}
	return out, nil
}

// DeleteAudit removes audit records (after their summary was written).
// Errors: ErrAuditKey for a key outside AuditPrefix, or the delete's.
func (c *Client) DeleteAudit(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if !strings.HasPrefix(k, AuditPrefix) || len(k) == len(AuditPrefix) {
			return fmt.Errorf("%w: %q", ErrAuditKey, k)
		}
	}
	for _, k := range keys {
		if _, err := c.cli.Delete(ctx, k); err != nil {
			return fmt.Errorf("etcd: removing audit record %s: %w", k, err)
		}
	}
	return nil
}
