package connect

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// readFunc reads one file, returning an error satisfying
// errors.Is(err, fs.ErrNotExist) for a missing one.
type readFunc func(path string) ([]byte, error)

// certFacts describes member m's TLS files as read by read: the files on
// its host (over SSH) or, with local, the *_source files on this machine.
// Key files are read into memory only to compare their public half with
// the certificate's; only hashes and the verdict are kept.
func certFacts(m *schema.Member, read readFunc, local bool) []state.CertInfo {
	if m.TLS == nil {
		return nil
	}
	var out []state.CertInfo
	for _, side := range []struct {
		name string
		ep   *schema.TLSEndpoint
	}{{"client", m.TLS.Client}, {"peer", m.TLS.Peer}} {
		if side.ep == nil {
			continue
		}
		pick := func(f schema.TLSFile) string {
			if local {
				return f.Source
			}
			return f.Path
		}
		if p := pick(side.ep.CA); p != "" {
			out = append(out, describeCert(side.name+"-ca", p, read))
		}
		cert, key := pick(side.ep.Cert), pick(side.ep.Key)
		if cert == "" && key == "" {
			continue
		}
		ci := state.CertInfo{Role: side.name + "-cert"}
		if cert != "" {
			ci = describeCert(ci.Role, cert, read)
		}
		if key != "" {
			describeKey(&ci, key, read)
		}
		out = append(out, ci)
	}
	return out
}

// describeCert reads a PEM file of one or more certificates and describes
// the first.
func describeCert(role, path string, read readFunc) state.CertInfo {
	ci := state.CertInfo{Role: role, Path: path}
	data, err := read(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ci.Missing = true
		return ci
	case err != nil:
		ci.Error = err.Error()
		return ci
	}
	sum := sha256.Sum256(data)
	ci.SHA256 = hex.EncodeToString(sum[:])
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			ci.DER = append(ci.DER, b.Bytes)
		}
	}
	if len(ci.DER) == 0 {
		ci.Error = "no PEM certificate in the file"
		return ci
	}
	c, err := x509.ParseCertificate(ci.DER[0])
	if err != nil {
		ci.Error = "parsing the certificate: " + err.Error()
		return ci
	}
	ci.Serial = c.SerialNumber.Text(16)
	ci.Subject = c.Subject.String()
	ci.Issuer = c.Issuer.String()
	ci.DNSNames = c.DNSNames
	for _, ip := range c.IPAddresses {
		ci.IPs = append(ci.IPs, ip.String())
	}
	ci.NotBefore, ci.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
	ci.PublicKeySHA256 = spkiHash(c.RawSubjectPublicKeyInfo)
	return ci
}

// describeKey reads the key file transiently: it records the file's hash,
// the hash of its public half, and whether that equals the certificate's.
func describeKey(ci *state.CertInfo, path string, read readFunc) {
	ci.KeyPath = path
	data, err := read(path)
	defer clear(data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ci.KeyMissing = true
		return
	case err != nil:
		ci.KeyError = err.Error()
		return
	}
	sum := sha256.Sum256(data)
	ci.KeySHA256 = hex.EncodeToString(sum[:])
	pub, err := publicOf(data)
	if err != nil {
		ci.KeyError = err.Error()
		return
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		ci.KeyError = err.Error()
		return
	}
	ci.KeyPublicSHA256 = spkiHash(der)
	ci.KeyMatches = ci.PublicKeySHA256 != "" && ci.KeyPublicSHA256 == ci.PublicKeySHA256
}

// publicOf parses a PEM private key (PKCS#8, PKCS#1 or SEC 1) and returns
// its public key.
func publicOf(data []byte) (crypto.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block in the key file")
	}
	defer clear(b.Bytes)
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("unsupported key PEM type %q", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("the key cannot sign")
	}
	return s.Public(), nil
}

func spkiHash(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// hostCerts reads member m's TLS files on its host.
func hostCerts(ctx context.Context, cli interface {
	ReadFile(context.Context, string) ([]byte, error)
}, m *schema.Member) []state.CertInfo {
	cache := map[string][]byte{}
	return certFacts(m, func(p string) ([]byte, error) {
		if d, ok := cache[p]; ok {
			return append([]byte(nil), d...), nil
		}
		d, err := cli.ReadFile(ctx, p)
		if err == nil && !isKeyPath(m, p) {
			cache[p] = append([]byte(nil), d...)
		}
		return d, err
	}, false)
}

// sourceCerts reads member m's local *_source files.
func sourceCerts(m *schema.Member) []state.CertInfo {
	return certFacts(m, os.ReadFile, true)
}

func isKeyPath(m *schema.Member, p string) bool {
	for _, ep := range []*schema.TLSEndpoint{m.TLS.Client, m.TLS.Peer} {
		if ep != nil && ep.Key.Path == p {
			return true
		}
	}
	return false
}
