package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/pki"
)

// With Options.TLS the lab runs mutual TLS on client and peer URLs. Its
// certificates are made with internal/pki at `lab up` and live in two
// places, as an operator's would:
//
//   - DIR/pki: the local sources lab.hcl names (ca.pem, NAME.pem,
//     NAME-key.pem, NAME-peer.pem, NAME-peer-key.pem), the CA's key
//     (ca-key.pem, so tests can issue new leaves) and the tool's own client
//     credentials (client.pem, client-key.pem);
//   - each member host's /etc/etcd/pki (DIR/hosts/NAME/etc-etcd/pki): the
//     uploaded copies etcd reads. Keys are mode 0600 everywhere.
const (
	// HostPKIDir is where a member's certificates live on its host.
	HostPKIDir = "/etc/etcd/pki"
	// PKIDir is the lab directory's folder of local sources.
	PKIDir = "pki"
)

// PKIPath returns the path of a file in the lab's local pki folder.
func (s *State) PKIPath(name string) string { return filepath.Join(s.Dir, PKIDir, name) }

// HostPKIPath returns the machine path of a file in host h's /etc/etcd/pki.
func (h Host) HostPKIPath(name string) string { return filepath.Join(h.Root, "etc-etcd", "pki", name) }

func (h Host) scheme() string {
	if h.TLS {
		return "https"
	}
	return "http"
}

// MemberCertRequest returns the request for a member's certificate: SANs
// for its address, its name, localhost and 127.0.0.1. Server and peer
// certificates are both server and client certificates: etcd dials its own
// client URL (the gRPC gateway) and its peers with them.
func MemberCertRequest(name, addr string) pki.Request {
	return pki.Request{CommonName: name, DNSNames: []string{name, "localhost"}, IPs: []string{addr, "127.0.0.1"}, Usage: pki.Peer}
}

// LoadCA reads the lab's CA (certificate and key) from DIR/pki.
func (s *State) LoadCA() (*pki.CA, error) {
	return pki.LoadCA(s.PKIPath("ca.pem"), s.PKIPath("ca-key.pem"))
}

// writePKI makes the lab's CA, every host's server and peer certificate
// (on a member's host and in the local pki dir; a spare host's only in the
// local dir), and the tool's client certificate.
func (s *State) writePKI() error {
	if err := os.MkdirAll(s.PKIPath(""), 0o700); err != nil {
		return err
	}
	ca, err := pki.NewCA("etcdform lab CA")
	if err != nil {
		return err
	}
	local := map[string][]byte{"ca.pem": ca.CertPEM, "ca-key.pem": ca.KeyPEM}
	tool, err := ca.Issue(pki.Request{CommonName: "etcdform", Usage: pki.Client})
	if err != nil {
		return err
	}
	local["client.pem"], local["client-key.pem"] = tool.CertPEM, tool.KeyPEM
	// Spare hosts get theirs as local sources only: a bare host has
	// nothing until a plan uploads it (a bootstrap, a member added).
	for _, h := range s.Hosts {
		host := map[string][]byte{"ca.pem": ca.CertPEM}
		for _, kind := range []string{"", "-peer"} {
			leaf, err := ca.Issue(MemberCertRequest(h.Name, h.Addr))
			if err != nil {
				return err
			}
			cert, key := h.Name+kind+".pem", h.Name+kind+"-key.pem"
			local[cert], local[key] = leaf.CertPEM, leaf.KeyPEM
			host[cert], host[key] = leaf.CertPEM, leaf.KeyPEM
		}
		if !h.Member {
			continue
		}
		dir := filepath.Join(h.Root, "etc-etcd", "pki")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for name, data := range host {
			if err := os.WriteFile(filepath.Join(dir, name), data, keyMode(name)); err != nil {
				return err
			}
		}
	}
	for name, data := range local {
		if err := os.WriteFile(s.PKIPath(name), data, keyMode(name)); err != nil {
			return err
		}
	}
	return nil
}

func keyMode(name string) os.FileMode {
	if strings.HasSuffix(name, "-key.pem") {
		return 0o600
	}
	return 0o644
}

// tlsHCL is lab.hcl's tls block: per-member files through ${member.name},
// uploaded from the local sources in pki/, and the tool's credentials.
func tlsHCL() string {
	side := func(name, kind string) string {
		return fmt.Sprintf(`    %s {
      ca_file     = "%[2]s/ca.pem"
      ca_source   = "pki/ca.pem"
      cert_file   = "%[2]s/${member.name}%[3]s.pem"
      cert_source = "pki/${member.name}%[3]s.pem"
      key_file    = "%[2]s/${member.name}%[3]s-key.pem"
      key_source  = "pki/${member.name}%[3]s-key.pem"
    }
`, name, HostPKIDir, kind)
	}
	return "\n  tls {\n" + side("client", "") + "\n" + side("peer", "-peer") + `
    tool {
      ca_file   = "pki/ca.pem"
      cert_file = "pki/client.pem"
      key_file  = "pki/client-key.pem"
    }
  }
`
}

// ClientTLS returns the TLS configuration of the tool's client credentials
// (DIR/pki/client.pem, verified against DIR/pki/ca.pem), or nil for a
// plain lab.
func (s *State) ClientTLS() (*tls.Config, error) {
	if !s.TLS {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(s.PKIPath("client.pem"), s.PKIPath("client-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	caPEM, err := os.ReadFile(s.PKIPath("ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("lab: %s holds no certificate", s.PKIPath("ca.pem"))
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// MemberHealthy reports whether h's /health answers true, over mutual TLS
// with the tool's credentials on a TLS lab.
func (s *State) MemberHealthy(ctx context.Context, h Host) bool {
	if !h.TLS {
		return Healthy(ctx, h.ClientURL())
	}
	cfg, err := s.ClientTLS()
	if err != nil {
		return false
	}
	return HealthyTLS(ctx, h.ClientURL(), cfg)
}

// HealthyTLS is Healthy over https with cfg.
func HealthyTLS(ctx context.Context, clientURL string, cfg *tls.Config) bool {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: time.Second}
	defer c.CloseIdleConnections()
	return healthy(ctx, c, clientURL)
}
