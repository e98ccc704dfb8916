package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// recHost records what an upload writes.
type recHost struct {
	fakeHost
	writes map[string]recWrite
	runs   []string
}

type recWrite struct {
	data []byte
	mode uint32
}

func (h *recHost) WriteFile(ctx context.Context, p string, d []byte, m uint32) error {
	h.writes[p] = recWrite{append([]byte(nil), d...), m}
	return h.w.call("write " + h.name)
}
func (h *recHost) Run(ctx context.Context, cmd string) (string, error) {
	h.runs = append(h.runs, cmd)
	return "", nil
}

type recConn struct {
	fakeConn
	h *recHost
}

func (c recConn) Host(ctx context.Context, cl *schema.Cluster, m *schema.Member) (Host, error) {
	c.h.name = m.Name
	return c.h, nil
}

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
			h := &recHost{fakeHost: fakeHost{w: w}, writes: map[string]recWrite{}}
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(w.obs)}
			p.Steps = []plan.Step{{Action: plan.UploadFile, Cluster: "lab", Member: "b", MemberID: 2,
				Uploads: []plan.Upload{{Role: "client-key", Path: "/etc/etcd/pki/b-key.pem", Source: src, SHA256: hex.EncodeToString(sum[:]), Mode: 0o600}}}}
			res, err := Run(t.Context(), testConfig(), p, recConn{fakeConn{w}, h}, Options{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if len(h.writes) != 0 || res.Steps[0].Outcome != "failed" {
					t.Fatalf("wrote %d files, outcome %s", len(h.writes), res.Steps[0].Outcome)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := h.writes["/etc/etcd/pki/b-key.pem"]
			if !ok || string(got.data) != string(key) || got.mode != 0o600 {
				t.Fatalf("write %+v", got)
			}
			if len(h.runs) != 1 || !strings.Contains(h.runs[0], "mkdir -p -- '/etc/etcd/pki'") {
				t.Fatalf("runs %q", h.runs)
			}
			if want := "lock write b gate hashkv put-audit unlock"; strings.Join(w.calls, " ") != want {
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
	h := &recHost{fakeHost: fakeHost{w: w}, writes: map[string]recWrite{}}
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(w.obs),
		Steps: []plan.Step{{Action: plan.UploadFile, Cluster: "lab", Member: "b", MemberID: 2, Uploads: ups}}}
	if _, err := Run(t.Context(), testConfig(), p, recConn{fakeConn{w}, h}, Options{}); err != nil {
		t.Fatal(err)
	}
	key, cert := h.writes["/etc/etcd/pki/b-peer-key.pem.etcdform-new"], h.writes["/etc/etcd/pki/b-peer.pem.etcdform-new"]
	if key.mode != 0o600 || cert.mode != 0o644 || string(cert.data) != "content of b-peer.pem" || len(h.writes) != 2 {
		t.Fatalf("staged writes %+v", h.writes)
	}
	if len(h.runs) != 2 {
		t.Fatalf("runs %q", h.runs)
	}
	swap := h.runs[1]
	k := strings.Index(swap, "mv -f -- '/etc/etcd/pki/b-peer-key.pem.etcdform-new' '/etc/etcd/pki/b-peer-key.pem'")
	c := strings.Index(swap, "mv -f -- '/etc/etcd/pki/b-peer.pem.etcdform-new' '/etc/etcd/pki/b-peer.pem'")
	if k < 0 || c < 0 || !strings.HasPrefix(swap, "set -e;") || !strings.Contains(swap, ".bak") {
		t.Fatalf("swap command %q", swap)
	}
}
