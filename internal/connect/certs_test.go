package connect

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/pki"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

func TestCertFacts(t *testing.T) {
	ca, _ := pki.NewCA("ca")
	ca2, _ := pki.NewCA("ca2")
	leaf, _ := ca.Issue(pki.Request{CommonName: "etcd-1", IPs: []string{"10.0.0.1"}, DNSNames: []string{"etcd-1"}, Usage: pki.Peer})
	other, _ := ca.Issue(pki.Request{CommonName: "x", Usage: pki.Peer})
	files := map[string][]byte{
		"/pki/ca.pem":          append(append([]byte{}, ca.CertPEM...), ca2.CertPEM...),
		"/pki/c.pem":           leaf.CertPEM,
		"/pki/c-key.pem":       leaf.KeyPEM,
		"/pki/p.pem":           leaf.CertPEM,
		"/pki/p-key.pem":       other.KeyPEM,
		"/local/c.pem":         leaf.CertPEM,
		"/local/c-key.pem":     leaf.KeyPEM,
		"/local/ca-broken.pem": []byte("not pem"),
	}
	read := func(p string) ([]byte, error) {
		if d, ok := files[p]; ok {
			return append([]byte(nil), d...), nil
		}
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
	m := &schema.Member{Name: "etcd-1", TLS: &schema.TLS{
		Client: &schema.TLSEndpoint{
			CA:   schema.TLSFile{Path: "/pki/ca.pem", Source: "/local/ca-broken.pem"},
			Cert: schema.TLSFile{Path: "/pki/c.pem", Source: "/local/c.pem"},
			Key:  schema.TLSFile{Path: "/pki/c-key.pem", Source: "/local/c-key.pem"},
		},
		Peer: &schema.TLSEndpoint{
			CA:   schema.TLSFile{Path: "/pki/missing-ca.pem"},
			Cert: schema.TLSFile{Path: "/pki/p.pem"},
			Key:  schema.TLSFile{Path: "/pki/p-key.pem"},
		},
	}}
	host := &state.Host{Certs: certFacts(m, read, false), Sources: certFacts(m, read, true)}

	cc := host.Cert(state.RoleClientCert)
	if cc == nil || cc.Serial != leaf.Cert.SerialNumber.Text(16) || !cc.KeyMatches || cc.KeySHA256 == "" {
		t.Fatalf("client cert facts: %+v", cc)
	}
	if strings.Join(cc.IPs, ",") != "10.0.0.1" || strings.Join(cc.DNSNames, ",") != "etcd-1" || cc.NotAfter.IsZero() {
		t.Fatalf("client cert SANs/dates: %+v", cc)
	}
	if ca := host.Cert(state.RoleClientCA); ca == nil || len(ca.DER) != 2 || ca.Missing {
		t.Fatalf("CA bundle: %+v", ca)
	}
	if pc := host.Cert(state.RolePeerCert); pc == nil || pc.KeyMatches || pc.KeyPublicSHA256 == "" || pc.KeyPublicSHA256 == pc.PublicKeySHA256 {
		t.Fatalf("mismatched peer key not detected: %+v", pc)
	}
	if pca := host.Cert(state.RolePeerCA); pca == nil || !pca.Missing {
		t.Fatalf("missing peer CA: %+v", pca)
	}
	if s := host.Source(state.RoleClientCA); s == nil || s.Error == "" {
		t.Fatalf("broken CA source: %+v", s)
	}
	if s := host.Source(state.RoleClientCert); s == nil || !s.KeyMatches || s.SHA256 != cc.SHA256 || s.KeySHA256 != cc.KeySHA256 {
		t.Fatalf("client cert source: %+v", s)
	}
	if s := host.Source(state.RolePeerCert); s != nil {
		t.Fatalf("peer has no sources, got %+v", s)
	}
	// Nothing the observer keeps holds key bytes.
	for _, ci := range append(host.Certs, host.Sources...) {
		for _, d := range ci.DER {
			if strings.Contains(string(d), string(leaf.KeyPEM)) {
				t.Fatal("key bytes in DER")
			}
		}
		if strings.Contains(ci.Error+ci.KeyError, "PRIVATE") {
			t.Fatalf("key text in an error: %+v", ci)
		}
	}
}
