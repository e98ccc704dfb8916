package etcd

import (
	"context"
	"fmt"
	"strings"
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
