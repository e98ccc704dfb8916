package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestDowngradeE2E (issue 17, acceptance Downgrade): a lab at 3.6.16 with
// etcd_version = "3.5.35" plans etcd's documented downgrade (a snapshot,
// the 3.5.35 binaries staged on every host, downgrade-validate,
// downgrade-enable, downgrade-member per member with the leader last, the
// wait for the cluster version); applied under a client writing as fast as
// it can, apply saw storage version 3.5.0 on every member before the first
// binary was replaced, every member reports 3.5.35, the cluster version is
// 3.5.0, no acknowledged write is lost, every member's backend has the 3.5
// storage version by etcd's rule, and a second plan is empty.
func TestDowngradeE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3, EtcdVersion: "3.6.16"})
	out := changeVersionUnderLoad(t, st, "3.6.16", "3.5.35", "3.5.0", func(order []string) []string {
		want := []string{"snapshot"}
		for _, n := range order {
			want = append(want, "stage-binary "+n)
		}
		want = append(want, "downgrade-validate", "downgrade-enable")
		for _, n := range order {
			want = append(want, "downgrade-member "+n)
		}
		return append(want, "wait-cluster-version")
	}, "downgrade-member")

	// The storage version showed the target before the first member was
	// replaced (downgrade-enable waits for it and says so).
	enable := strings.Index(out, "storage version 3.5.0 on every member")
	first := -1
	if loc := regexp.MustCompile(`step \d+/\d+ downgrade-member`).FindStringIndex(out); loc != nil {
		first = loc[0]
	}
	if enable < 0 || first < 0 || enable > first {
		t.Errorf("apply did not report storage version 3.5.0 on every member before the first downgrade-member:\n%s", out)
	}

	// etcd 3.5 reports no storage version; etcd reads a backend without
	// the storageVersion key, with its confState and term, as 3.5
	// (schema.DetectSchemaVersion): the downgrade removed the key 3.6
	// added. Checked on a snapshot of each member's backend.
	for _, h := range st.Members() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		one := etcdClientAt(t, h.ClientURL())
		rc, err := one.Snapshot(ctx)
		if err != nil {
			cancel()
			t.Fatalf("snapshot of %s: %v", h.Name, err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		cancel()
		if err != nil {
			t.Fatalf("snapshot of %s: %v", h.Name, err)
		}
		if v, err := storageVersionOf(t, buf.Bytes()); err != nil || v != "3.5" {
			t.Errorf("%s: storage version %q (%v), want 3.5", h.Name, v, err)
		}
	}
}

// storageVersionOf reads the storage version of an etcd backend (a
// snapshot's bytes, less etcd's trailing sha256) as etcd detects it: the
// meta bucket's storageVersion key, or, without it, 3.5 when the backend
// holds its confState and consistent index term.
func storageVersionOf(t *testing.T, snap []byte) (string, error) {
	t.Helper()
	path := t.TempDir() + "/snap.db"
	if err := os.WriteFile(path, snap[:len(snap)-32], 0o600); err != nil {
		return "", err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		if meta == nil {
			return fmt.Errorf("no meta bucket")
		}
		if sv := meta.Get([]byte("storageVersion")); sv != nil {
			v = string(sv)
			return nil
		}
		if meta.Get([]byte("confState")) == nil || meta.Get([]byte("term")) == nil {
			return fmt.Errorf("no storageVersion, confState or term: not a 3.5 backend")
		}
		v = "3.5"
		return nil
	})
	return v, err
}
