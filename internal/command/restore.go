package command

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"

	"github.com/etcdform/etcdform/internal/backup"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/schema"
)

// backupFetcher returns apply's FetchBackup for a plan that restores a
// backup (nil for any other plan), with the age identity from
// identityFile or, without it, the plan.IdentityEnv environment variable.
// It fails, before apply takes any lock, when an encrypted backup the plan
// restores has no identity, or none that matches its recipient. The
// identity is never printed.
func backupFetcher(env *Env, cfg *schema.Config, p *plan.Plan, identityFile string) (func(context.Context, string, plan.BackupSnapshot, string) error, error) {
	var backups []plan.BackupSnapshot
	for _, s := range p.Steps {
		if s.Action == plan.FetchBackup && s.Backup != nil {
			backups = append(backups, *s.Backup)
		}
	}
	if len(backups) == 0 {
		return nil, nil
	}
	var ids []age.Identity
	switch v := env.Getenv(plan.IdentityEnv); {
	case identityFile != "":
		var err error
		if ids, err = readIdentities(identityFile); err != nil {
			return nil, fmt.Errorf("--identity: %w. Nothing was applied", err)
		}
	case v != "":
		var err error
		if ids, err = age.ParseIdentities(strings.NewReader(v)); err != nil {
			return nil, fmt.Errorf("%s does not hold an age identity. Nothing was applied", plan.IdentityEnv)
		}
	}
	for _, b := range backups {
		if !b.Encrypted {
			continue
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("the plan restores backup %s, which is encrypted to %s: give the age identity that decrypts it with --identity FILE or %s. Nothing was applied", b.ID, b.Recipient, plan.IdentityEnv)
		}
		if !matches(ids, b.Recipient) {
			return nil, fmt.Errorf("the age identity given does not match the recipient %s that backup %s is encrypted to. Nothing was applied", b.Recipient, b.ID)
		}
	}
	return func(ctx context.Context, cluster string, b plan.BackupSnapshot, path string) error {
		var c *schema.Cluster
		for _, cc := range cfg.Clusters {
			if cc.Name == cluster {
				c = cc
			}
		}
		if c == nil || c.Backup == nil || c.Backup.Destination != b.Destination {
			return fmt.Errorf("cluster %s has no backup destination %s in the configuration", cluster, b.Destination)
		}
		store, err := openStore(env, *c.Backup)
		if err != nil {
			return err
		}
		meta := backupstore.Meta{ID: b.ID, Cluster: cluster, Object: b.Object, SHA256: b.SHA256, Size: b.Size, Encrypted: b.Encrypted, Recipient: b.Recipient}
		if err := backup.Fetch(ctx, store, meta, ids, path); err != nil {
			if errors.Is(err, backup.ErrCorrupt) {
				return fmt.Errorf("%w (the object at the destination is not the one the plan recorded)", err)
			}
			return err
		}
		return nil
	}, nil
}

// matches reports whether one of ids is the X25519 identity of
// recipient. Identities of other kinds (plugins) are assumed to match:
// the decryption says.
func matches(ids []age.Identity, recipient string) bool {
	for _, id := range ids {
		x, ok := id.(*age.X25519Identity)
		if !ok || recipient == "" || x.Recipient().String() == recipient {
			return true
		}
	}
	return false
}
