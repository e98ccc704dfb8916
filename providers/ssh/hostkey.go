package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyChecker verifies one host's key against a known_hosts file and
// remembers why it refused, so that Dial can report the real cause rather
// than "handshake failed".
type hostKeyChecker struct {
	file       string
	addr       string
	check      ssh.HostKeyCallback
	algorithms []string // host key algorithms known_hosts has for addr
	err        error
}

func newHostKeyChecker(file, addr string) (*hostKeyChecker, error) {
	if file == "" {
		return nil, errors.New("no known_hosts file given: host keys are always verified")
	}
	check, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts: %w", err)
	}
	h := &hostKeyChecker{file: file, addr: addr, check: check}
	h.algorithms = h.knownAlgorithms()
	return h, nil
}

// knownAlgorithms lists the algorithms of the keys known_hosts holds for
// the host, so the server is asked for a key we can check rather than, say,
// its ECDSA key when we only know its Ed25519 key (which would look like a
// mismatch). It is nil for an unknown host.
func (h *hostKeyChecker) knownAlgorithms() []string {
	probe := probeKey()
	if probe == nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(h.check(h.addr, zeroTCPAddr, probe), &keyErr) {
		return nil
	}
	var algs []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algs = append(algs, a)
			}
		}
	}
	return algs
}

var zeroTCPAddr = &net.TCPAddr{IP: net.IPv4zero}

// probeKey is a key no known_hosts holds, made once per process rather
// than once per dial; nil if it cannot be made.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	return probe
})

func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

func (h *hostKeyChecker) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := h.check(hostname, remote, key)
	if err == nil {
		return nil
	}
	fp := ssh.FingerprintSHA256(key)
	entry := knownhosts.Normalize(h.addr)
	host, port, _ := net.SplitHostPort(h.addr)
	scan := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, h.file)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		h.err = fmt.Errorf("ssh %s: %w: %s has no entry for %s (it offered %s key %s); "+
			"check the fingerprint out of band, then add it with: %s",
			h.addr, ErrUnknownHost, h.file, entry, key.Type(), fp, scan)
	case errors.As(err, &keyErr):
		var lines []string
		for _, w := range keyErr.Want {
			lines = append(lines, fmt.Sprintf("%s:%d", w.Filename, w.Line))
		}
		h.err = fmt.Errorf("ssh %s: %w: it offered %s key %s, which is not the key at %s; "+
			"this may be an attack. If the host was rebuilt or re-keyed, remove the old entry with "+
			"`ssh-keygen -R '%s' -f %s`, check the new fingerprint out of band, and add it with: %s",
			h.addr, ErrHostKeyMismatch, key.Type(), fp, strings.Join(lines, ", "), entry, h.file, scan)
	case errors.As(err, &revoked):
		h.err = fmt.Errorf("ssh %s: %w: it offered %s key %s, which %s:%d marks @revoked",
			h.addr, ErrHostKeyMismatch, key.Type(), fp, revoked.Revoked.Filename, revoked.Revoked.Line)
	default:
		h.err = fmt.Errorf("ssh %s: checking host key %s against %s: %w", h.addr, fp, h.file, err)
	}
	return h.err
}
