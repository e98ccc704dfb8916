package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/etcdform/etcdform/plan"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Environment variables that supply (or override, one by one) the tool's
// own etcd client credentials, for CI where the configuration should not
// name them: local paths of a CA bundle, a client certificate and its key.
const (
	EnvEtcdCA   = "ETCDFORM_ETCD_CA"
	EnvEtcdCert = "ETCDFORM_ETCD_CERT"
	EnvEtcdKey  = "ETCDFORM_ETCD_KEY"
)

// Getenv reads the environment for ClientTLS; tests replace it.
var Getenv = os.Getenv

// ClientTLS returns the TLS configuration etcdform's etcd client uses for
// cluster c: nil when no member has an https client URL. The server
// certificate is always verified against the configured CA (tls.tool.ca_file
// or ETCDFORM_ETCD_CA; the system roots when neither is set); there is no
// insecure mode. The key file is read here, into memory only, and never
// enters any model.
func ClientTLS(c *schema.Cluster) (*tls.Config, error) {
	return TargetTLS(plan.ClusterTargetOf(c))
}

// TargetTLS is ClientTLS for a cluster as a plan names it.
func TargetTLS(ct plan.ClusterTarget) (*tls.Config, error) {
	https := false
	for _, ep := range ct.Endpoints {
		https = https || strings.HasPrefix(ep, "https://")
	}
	if !https {
		return nil, nil
	}
	t := toolFiles(ct)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: reading the tool's CA file: %w", ct.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cluster %s: the tool's CA file %s holds no PEM certificate", ct.Name, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: loading the tool's client certificate %s: %w", ct.Name, t.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case t.CertFile != "" || t.KeyFile != "":
		return nil, fmt.Errorf("cluster %s: the tool's client certificate needs both a cert and a key file (tls.tool or %s/%s)", ct.Name, EnvEtcdCert, EnvEtcdKey)
	}
	return cfg, nil
}

// toolFiles returns the tool's credential files for c: the tls.tool block,
// overridden one by one by the environment.
func toolFiles(ct plan.ClusterTarget) schema.ToolTLS {
	t := schema.ToolTLS{CAFile: ct.CAFile, CertFile: ct.CertFile, KeyFile: ct.KeyFile}
	for _, e := range []struct {
		name string
		dst  *string
	}{{EnvEtcdCA, &t.CAFile}, {EnvEtcdCert, &t.CertFile}, {EnvEtcdKey, &t.KeyFile}} {
		if v := Getenv(e.name); v != "" {
			*e.dst = v
		}
	}
	return t
}

// toolCert describes the tool's client certificate for c, or nil.
func toolCert(c *schema.Cluster) *state.CertInfo {
	t := toolFiles(plan.ClusterTargetOf(c))
	if t.CertFile == "" {
		return nil
	}
	ci := describeCert("tool-cert", t.CertFile, os.ReadFile)
	return &ci
}

// clientOptions returns the etcd client options for the cluster, or the
// error building its TLS configuration.
func clientOptions(c plan.ClusterTarget) ([]etcdp.Option, error) {
	cfg, err := TargetTLS(c)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, nil
	}
	return []etcdp.Option{etcdp.WithTLS(cfg)}, nil
}

// ClientOptions returns the etcd client options for the cluster. When the
// TLS configuration cannot be built, every connection made with the options
// fails with that error (never an unverified connection); callers that can
// report errors use clientOptions.
func ClientOptions(c *schema.Cluster) []etcdp.Option {
	opts, err := clientOptions(plan.ClusterTargetOf(c))
	if err != nil {
		return []etcdp.Option{etcdp.WithTLS(&tls.Config{
			MinVersion:       tls.VersionTLS12,
			RootCAs:          x509.NewCertPool(),
			VerifyConnection: func(tls.ConnectionState) error { return err },
		})}
	}
	return opts
}

// ProbeTLS makes one TLS handshake with each https endpoint that accepts a
// TCP connection and returns an error naming every endpoint whose
// handshake failed and why (an unknown authority, a name mismatch, a
// refused client certificate), or nil when at least one handshake
// succeeded, none failed (nothing listens: a cluster down, or not started
// yet by a bootstrap or a restore), or no endpoint uses https. The etcd
// client itself reports only a timeout for these, so Observe and Connector
// use this to say what went wrong.
func ProbeTLS(ctx context.Context, endpoints []string, cfg *tls.Config) error {
	if cfg == nil {
		return nil
	}
	errs := make([]error, len(endpoints))
	var wg sync.WaitGroup
	for i, ep := range endpoints {
		u, err := url.Parse(ep)
		if err != nil || u.Scheme != "https" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cfg.Clone()
			if c.ServerName == "" {
				c.ServerName = u.Hostname()
			}
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			// An endpoint where nothing accepts the connection (a member
			// down, a cluster that a bootstrap or a restore is about to
			// start) says nothing about TLS: it is left out.
			raw, err := (&net.Dialer{}).DialContext(pctx, "tcp", u.Host)
			if err != nil {
				return
			}
			conn := tls.Client(raw, c)
			if err := conn.HandshakeContext(pctx); err != nil {
				raw.Close()
				var rh tls.RecordHeaderError
				if errors.As(err, &rh) {
					err = fmt.Errorf("%w (the member serves plain http: moving a running cluster from plaintext to TLS is not automated, see docs/tls.md)", err)
				}
				errs[i] = fmt.Errorf("endpoint %s: TLS handshake failed: %w", ep, err)
				return
			}
			// With TLS 1.3 a refused client certificate shows only on the
			// first read; a short read deadline brings it out.
			_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			var b [1]byte
			if _, err := conn.Read(b[:]); err != nil && !isTimeout(err) && !errors.Is(err, net.ErrClosed) {
				var alert tls.AlertError
				if errors.As(err, &alert) || strings.Contains(err.Error(), "tls:") {
					errs[i] = fmt.Errorf("endpoint %s: the server refused the TLS session: %w", ep, err)
				}
			}
			conn.Close()
		}()
	}
	wg.Wait()
	var failed []string
	var first error
	ok := false
	for i, ep := range endpoints {
		if !strings.HasPrefix(ep, "https://") {
			continue
		}
		if errs[i] != nil {
			failed = append(failed, errs[i].Error())
			if first == nil {
				first = errs[i]
			}
		} else {
			ok = true
		}
	}
	if ok || len(failed) == 0 {
		return nil
	}
	if len(failed) == 1 {
		return first
	}
	return fmt.Errorf("%w; %s", first, strings.Join(failed[1:], "; "))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
