package connect

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/pki"
	"github.com/etcdform/etcdform/schema"
)

// tlsServer serves TLS on 127.0.0.1 with a certificate from ca, requiring
// client certificates signed by clientCA, and answers nothing.
func tlsServer(t *testing.T, ca, clientCA *pki.CA) string {
	t.Helper()
	leaf, err := ca.Issue(pki.Request{CommonName: "srv", IPs: []string{"127.0.0.1"}, Usage: pki.Server})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.Cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				var b [1]byte
				_, _ = c.Read(b[:])
			}()
		}
	}()
	return "https://" + ln.Addr().String()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientTLSAndProbe(t *testing.T) {
	good, err := pki.NewCA("good")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	client, err := good.Issue(pki.Request{CommonName: "etcdform", Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tool := &schema.ToolTLS{
		CAFile:   writeFile(t, dir, "ca.pem", good.CertPEM),
		CertFile: writeFile(t, dir, "client.pem", client.CertPEM),
		KeyFile:  writeFile(t, dir, "client-key.pem", client.KeyPEM),
	}
	otherCA := writeFile(t, dir, "other-ca.pem", other.CertPEM)

	goodEP := tlsServer(t, good, good)
	badEP := tlsServer(t, other, good)
	cluster := func(tool *schema.ToolTLS, eps ...string) *schema.Cluster {
		c := &schema.Cluster{Name: "c", TLS: &schema.TLS{Client: &schema.TLSEndpoint{}, Tool: tool}}
		for _, ep := range eps {
			c.Members = append(c.Members, &schema.Member{Name: "m", ClientURL: ep})
		}
		return c
	}

	t.Run("plain http needs no TLS", func(t *testing.T) {
		cfg, err := ClientTLS(&schema.Cluster{Members: []*schema.Member{{ClientURL: "http://127.0.0.1:2379"}}})
		if err != nil || cfg != nil {
			t.Fatalf("got %v, %v", cfg, err)
		}
	})
	t.Run("good CA connects", func(t *testing.T) {
		cfg, err := ClientTLS(cluster(tool, goodEP))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.InsecureSkipVerify || cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
			t.Fatalf("unexpected config: insecure=%v roots=%v certs=%d", cfg.InsecureSkipVerify, cfg.RootCAs != nil, len(cfg.Certificates))
		}
		if err := ProbeTLS(t.Context(), []string{goodEP}, cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("server cert from another CA fails naming the endpoint", func(t *testing.T) {
		cfg, err := ClientTLS(cluster(tool, badEP))
		if err != nil {
			t.Fatal(err)
		}
		err = ProbeTLS(t.Context(), []string{badEP}, cfg)
		if err == nil || !strings.Contains(err.Error(), badEP) || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("want an unknown-authority error naming %s, got %v", badEP, err)
		}
	})
	t.Run("wrong CA from the environment overrides the block", func(t *testing.T) {
		Getenv = func(k string) string {
			if k == EnvEtcdCA {
				return otherCA
			}
			return ""
		}
		defer func() { Getenv = os.Getenv }()
		cfg, err := ClientTLS(cluster(tool, goodEP))
		if err != nil {
			t.Fatal(err)
		}
		err = ProbeTLS(t.Context(), []string{goodEP}, cfg)
		if err == nil || !strings.Contains(err.Error(), goodEP) {
			t.Fatalf("want an error naming %s, got %v", goodEP, err)
		}
	})
	t.Run("no client certificate is refused by the server", func(t *testing.T) {
		cfg, err := ClientTLS(cluster(&schema.ToolTLS{CAFile: tool.CAFile}, goodEP))
		if err != nil {
			t.Fatal(err)
		}
		err = ProbeTLS(t.Context(), []string{goodEP}, cfg)
		if err == nil || !strings.Contains(err.Error(), goodEP) {
			t.Fatalf("want a refusal naming %s, got %v", goodEP, err)
		}
	})
	t.Run("one good endpoint is enough", func(t *testing.T) {
		cfg, _ := ClientTLS(cluster(tool, goodEP, badEP))
		if err := ProbeTLS(t.Context(), []string{badEP, goodEP}, cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unusable CA file is an error, and ClientOptions never connects", func(t *testing.T) {
		bad := &schema.ToolTLS{CAFile: writeFile(t, dir, "junk.pem", []byte("junk"))}
		if _, err := ClientTLS(cluster(bad, goodEP)); err == nil {
			t.Fatal("junk CA accepted")
		}
		if opts := ClientOptions(cluster(bad, goodEP)); len(opts) != 1 {
			t.Fatalf("want a failing TLS option, got %d options", len(opts))
		}
	})
}

func TestProbeTLSPlaintextMember(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// An http server answers a TLS hello with a plain-text error.
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	ep := "https://" + ln.Addr().String()
	err = ProbeTLS(t.Context(), []string{ep}, &tls.Config{MinVersion: tls.VersionTLS12})
	if err == nil || !strings.Contains(err.Error(), ep) || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("want a plaintext hint naming %s, got %v", ep, err)
	}
}
