package lab_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/schema"
)

// TestLabTLS brings up a --tls lab and checks what it promises: https
// URLs, mutual TLS required (a client without a certificate is refused),
// certificates with the member's SANs, keys at 0600, and a lab.hcl that
// decodes to the settings the members run with.
func TestLabTLS(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3, TLS: true})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	cfg, err := st.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, h := range st.Members() {
		if !strings.HasPrefix(h.ClientURL(), "https://") || !strings.HasPrefix(h.PeerURL(), "https://") {
			t.Fatalf("%s: URLs %s %s, want https", h.Name, h.ClientURL(), h.PeerURL())
		}
		eps = append(eps, h.ClientURL())
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 3 * time.Second, TLS: cfg, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "/lab/tls", "ok"); err != nil {
		t.Fatalf("put over mTLS: %v", err)
	}
	ml, err := cli.MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list: %v, %v", ml, err)
	}
	for _, m := range ml.Members {
		if len(m.PeerURLs) != 1 || !strings.HasPrefix(m.PeerURLs[0], "https://") {
			t.Fatalf("member %s peer URLs %v, want https", m.Name, m.PeerURLs)
		}
	}

	// Without a client certificate: refused.
	noCert := cfg.Clone()
	noCert.Certificates = nil
	if lab.HealthyTLS(ctx, eps[0], noCert) {
		t.Fatal("a client without a certificate was served: client-cert-auth is off")
	}
	// Without the CA: the server is not trusted.
	noCA := cfg.Clone()
	noCA.RootCAs = x509.NewCertPool()
	if lab.HealthyTLS(ctx, eps[0], noCA) {
		t.Fatal("a client that does not trust the lab CA was served")
	}

	for _, h := range st.Members() {
		for _, kind := range []string{"", "-peer"} {
			data, err := os.ReadFile(h.HostPKIPath(h.Name + kind + ".pem"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(data)
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{h.Addr, h.Name, "localhost", "127.0.0.1"} {
				if err := cert.VerifyHostname(name); err != nil {
					t.Errorf("%s%s.pem: %v", h.Name, kind, err)
				}
			}
			fi, err := os.Stat(h.HostPKIPath(h.Name + kind + "-key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s%s-key.pem has mode %v, want 0600", h.Name, kind, fi.Mode().Perm())
			}
		}
	}

	// lab.hcl decodes to https URLs and per-member paths.
	conf, diags := schema.Load(st.HCLFile(), schema.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := conf.Clusters[0]
	if c.TLS == nil || c.TLS.Tool == nil || c.TLS.Tool.CertFile != filepath.Join(st.Dir, "pki", "client.pem") {
		t.Fatalf("tool credentials not decoded: %+v", c.TLS)
	}
	m := c.Member("etcd-2")
	if got := m.TLS.Peer.Cert.Path; got != "/etc/etcd/pki/etcd-2-peer.pem" {
		t.Fatalf("etcd-2 peer cert path %q", got)
	}
	if got := m.TLS.Client.Key.Source; got != st.PKIPath("etcd-2-key.pem") {
		t.Fatalf("etcd-2 client key source %q", got)
	}
}
