package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

func TestUploadFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "b-key.pem")
	key := []byte("-----BEGIN PRIVATE KEY-----\nbytes\n-----END PRIVATE KEY-----\n")
	if err := os.WriteFile(src, key, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(key)
	for name, tc := range map[string]struct {
		change  []byte // new source content before apply; nil: unchanged
		wantErr error
	}{
		"uploads the reviewed source with mode 0600": {},
		"refuses a source changed since the plan":    {change: []byte("other"), wantErr: ErrSourceChanged},
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(src, key, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.change != nil {
				if err := os.WriteFile(src, tc.change, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			w := &fakeWorld{obs: testObserved("h1")}
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(w.obs)}
			p.Steps = []plan.Step{{Action: plan.UploadFile, Cluster: "lab", Member: "b", MemberID: 2,
				Uploads: []plan.Upload{{Role: "client-key", Path: "/etc/etcd/pki/b-key.pem", Source: src, SHA256: hex.EncodeToString(sum[:]), Mode: 0o600}}}}
			res, err := Run(t.Context(), withTargets(testConfig(), p), fakeConn{w}, Options{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if len(w.ops) != 0 || res.Steps[0].Outcome != "failed" {
					t.Fatalf("host operations %+v, outcome %s", w.ops, res.Steps[0].Outcome)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []op{{Host: "b", Op: "install-files", Files: []File{{Path: "/etc/etcd/pki/b-key.pem", Data: key, Mode: 0o600}}}}
			if diff := cmp.Diff(want, w.ops); diff != "" {
				t.Fatalf("host operations (-want +got):\n%s", diff)
			}
			if want := "lock install-files b gate hashkv put-audit unlock"; strings.Join(w.calls, " ") != want {
				t.Fatalf("calls %q, want %q (no restart, gate after the upload)", strings.Join(w.calls, " "), want)
			}
		})
	}
}

func TestUploadPairIsSwappedTogether(t *testing.T) {
	dir := t.TempDir()
	var ups []plan.Upload
	for _, f := range []struct{ role, name string }{{"peer-key", "b-peer-key.pem"}, {"peer-cert", "b-peer.pem"}} {
		data := []byte("content of " + f.name)
		if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		ups = append(ups, plan.Upload{Role: f.role, Path: "/etc/etcd/pki/" + f.name, Source: filepath.Join(dir, f.name), SHA256: hex.EncodeToString(sum[:])})
	}
	w := &fakeWorld{obs: testObserved("h1")}
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(w.obs),
		Steps: []plan.Step{{Action: plan.UploadFile, Cluster: "lab", Member: "b", MemberID: 2, Uploads: ups}}}
	if _, err := Run(t.Context(), withTargets(testConfig(), p), fakeConn{w}, Options{}); err != nil {
		t.Fatal(err)
	}
	// One operation installs both, so the host swaps them in together.
	want := []op{{Host: "b", Op: "install-files", Files: []File{
		{Path: "/etc/etcd/pki/b-peer-key.pem", Data: []byte("content of b-peer-key.pem"), Mode: 0o600},
		{Path: "/etc/etcd/pki/b-peer.pem", Data: []byte("content of b-peer.pem"), Mode: 0o644},
	}}}
	if diff := cmp.Diff(want, w.ops); diff != "" {
		t.Fatalf("host operations (-want +got):\n%s", diff)
	}
}
