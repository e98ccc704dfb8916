package pki

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestIssueChainsAndMatches(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(Request{CommonName: "etcd-1", DNSNames: []string{"etcd-1", "localhost"}, IPs: []string{"10.0.0.1", "127.0.0.1"}, Usage: Peer})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			t.Fatalf("leaf does not verify for %v: %v", u, err)
		}
	}
	if err := leaf.Cert.VerifyHostname("10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM); err != nil {
		t.Fatalf("cert and key do not pair: %v", err)
	}
	other, _ := ca.Issue(Request{CommonName: "x", Usage: Client})
	if _, err := tls.X509KeyPair(leaf.CertPEM, other.KeyPEM); err == nil {
		t.Fatal("a foreign key paired with the leaf")
	}
	if _, err := ca.Issue(Request{CommonName: "x", IPs: []string{"not-an-ip"}, Usage: Server}); err == nil {
		t.Fatal("bad IP accepted")
	}
}
