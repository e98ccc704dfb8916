package plan

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// effective is one side of a member's TLS as it will be after the planned
// uploads: the source's facts where a source is set, the host's otherwise.
type effective struct {
	side    string // "client" | "peer"
	cert    *state.CertInfo
	keyPub  string // sha256 of the key's public half; "" when unknown
	keyWhy  string // why keyPub is unknown
	ca      *state.CertInfo
	urlHost string
	// What the host holds now (etcd runs these, or will at its next
	// handshake for leaves and its next start for the CA).
	hostCert, hostCA *state.CertInfo
}

// tlsPlan checks the certificates of every kept or added member whose
// host was observed, and plans the uploads of the files whose local source
// differs from the host's copy. Refusals: an expired, missing or
// unreadable certificate, a SAN that does not cover the member's URL host,
// a key that does not match its certificate, a certificate that does not
// chain to the configured CA (its own, and for peers every other member's,
// as planned and as running now), a tool certificate the members would no
// longer trust. Warnings: a certificate (leaf, CA or the tool's) expiring
// within min_remaining or not yet valid, and the phase of a CA rotation.
// The uploads, and the CA bundles among them that need a restart, go to
// the member's work list.
func (cp *clusterPlanner) tlsPlan() {
	now := cp.opts.Meta.Time
	var peers []*memberTLS
	seenCA := map[string]bool{}
	for _, m := range append(append([]*member{}, cp.kept...), cp.added...) {
		if m.desired == nil || m.desired.TLS == nil || m.hostDown || m.host == nil || !m.host.Reachable {
			continue
		}
		if uploads, restart := cp.tlsUploads(m); len(uploads) > 0 {
			w := cp.work.of(m)
			w.uploads = append(w.uploads, uploads...)
			w.caRestart = append(w.caRestart, restart...)
		}
		for _, e := range cp.effectiveTLS(m) {
			cp.checkCert(m, e, now)
			cp.checkCAExpiry(m, e, now, seenCA)
			if e.side == "peer" {
				peers = append(peers, &memberTLS{m: m, e: e})
			}
		}
	}
	cp.checkPeerTrust(peers, now)
	cp.caRotationPhase(peers)
	cp.checkToolCert(now)
}

// schemeChange reports whether want differs from one of the live URLs in
// its scheme only (http <-> https).
func schemeChange(live []string, want string) bool {
	_, rest, ok := strings.Cut(want, "://")
	if !ok {
		return false
	}
	for _, u := range live {
		if _, r, ok := strings.Cut(u, "://"); ok && r == rest && u != want {
			return true
		}
	}
	return false
}

// refusePlaintextToTLS refuses switching a running member's peer URL
// between http and https: that is not automated (docs/tls.md gives the
// procedure by hand).
func (cp *clusterPlanner) refusePlaintextToTLS(name, want string, live []string) {
	cp.refuse(name, 0, "Plaintext to TLS not automated",
		"Member %s has peer URL %s in the configuration but %s in the cluster. Switching a running cluster between plaintext and TLS is not automated: it needs the new scheme served beside the old one and a member update of every peer URL, one member at a time. Follow the procedure in docs/tls.md, then plan again.", name, want, strings.Join(live, ","))
}

// checkToolCert checks etcdform's own client certificate: expiry, and that
// every member's client CA bundle (as planned) trusts it, so the tool can
// still connect after the apply (the last phase of a CA rotation drops
// the CA that issued it otherwise).
func (cp *clusterPlanner) checkToolCert(now time.Time) {
	tc := cp.oc.ToolCert
	if tc == nil || tc.Missing || tc.Error != "" || len(tc.DER) == 0 {
		return
	}
	minRemaining := schema.DefaultMinRemaining
	if cp.c.TLS != nil {
		minRemaining = cp.c.TLS.MinRemaining
	}
	switch left := tc.NotAfter.Sub(now); {
	case now.IsZero():
	case left <= 0:
		cp.refuse("", 0, "Tool certificate expired",
			"etcdform's client certificate %s (serial %s) expired at %s; members reject it. Issue a new one (tls.tool.cert_file or ETCDFORM_ETCD_CERT).", tc.Path, tc.Serial, tc.NotAfter.Format(time.RFC3339))
	case left < minRemaining:
		cp.warn("", "Tool certificate expires soon",
			"etcdform's client certificate %s (serial %s) expires at %s, in %s, within min_remaining = %s.", tc.Path, tc.Serial, tc.NotAfter.Format(time.RFC3339), roundDur(left), roundDur(minRemaining))
	}
	cert, err := x509.ParseCertificate(tc.DER[0])
	if err != nil {
		return
	}
	for _, m := range cp.kept {
		if m.desired == nil || m.desired.TLS == nil || m.desired.TLS.Client == nil || !m.desired.TLS.Client.ClientCertAuth || m.host == nil || !m.host.Reachable {
			continue
		}
		ca := m.host.Cert("client-ca")
		if m.desired.TLS.Client.CA.Source != "" {
			ca = m.host.Source("client-ca")
		}
		if ca == nil || len(ca.DER) == 0 {
			continue
		}
		if err := verifyChain(cert, tc, ca, now); err != nil {
			cp.refuse(m.name, 0, "Tool certificate not trusted by member",
				"etcdform's client certificate %s (issuer %s) does not chain to the client CA bundle %s of member %s as planned: %s. The tool could not connect to it after the apply; give the tool a certificate from a CA in that bundle first.", tc.Path, tc.Issuer, ca.Path, m.name, err)
		}
	}
}

type memberTLS struct {
	m *member
	e effective
}

func sides(t *schema.TLS) []struct {
	name string
	ep   *schema.TLSEndpoint
} {
	return []struct {
		name string
		ep   *schema.TLSEndpoint
	}{{"client", t.Client}, {"peer", t.Peer}}
}

// startUploads returns the uploads of member m's TLS files to its host h
// for a member that starts from what the plan puts on the host (a
// bootstrap, a restore, a member added back in a recovery), where tlsPlan
// does not run: every file whose source differs from the host's copy, as
// tlsUploads plans them. A host rebuilt with its data has lost these too,
// and etcd does not start without them.
func (cp *clusterPlanner) startUploads(m *schema.Member, h *state.Host) []Step {
	if m == nil || m.TLS == nil || h == nil || !h.Reachable {
		return nil
	}
	uploads, _ := cp.tlsUploads(&member{name: m.Name, desired: m, host: h})
	return uploads
}

// tlsUploads plans the uploads of member m's files whose source differs
// from the host's copy (by sha256), each host path once: per side, the CA
// bundle in a step of its own (first: trust widens before anything
// else changes), then the key and certificate together in one step.
// etcd loads cert-file and key-file at every handshake, so a key written
// without its certificate would fail every new connection; apply swaps
// the two in one command. restart holds the changes that take effect only
// at a restart (CA bundles); empty when the uploads take effect on their
// own.
func (cp *clusterPlanner) tlsUploads(m *member) (uploads []Step, restart []Change) {
	seen := map[string]bool{}
	for _, s := range sides(m.desired.TLS) {
		if s.ep == nil {
			continue
		}
		hostCert, srcCert := m.host.Cert(s.name+"-cert"), m.host.Source(s.name+"-cert")
		hostCA, srcCA := m.host.Cert(s.name+"-ca"), m.host.Source(s.name+"-ca")
		files := []struct {
			kind      string
			f         schema.TLSFile
			have, src string // sha256s
			srcBad    string
			info      *state.CertInfo // for a certificate source: its facts
		}{
			{"ca", s.ep.CA, sha(hostCA, false), sha(srcCA, false), bad(srcCA, false), srcCA},
			{"key", s.ep.Key, sha(hostCert, true), sha(srcCert, true), bad(srcCert, true), nil},
			{"cert", s.ep.Cert, sha(hostCert, false), sha(srcCert, false), bad(srcCert, false), srcCert},
		}
		var pair Step
		for _, f := range files {
			if f.f.Source == "" || seen[f.f.Path] {
				continue
			}
			seen[f.f.Path] = true
			if f.srcBad != "" {
				cp.refuse(m.name, 0, "TLS source unreadable",
					"The %s %s source %s of member %s cannot be used: %s. Fix the file and plan again.", s.name, f.kind, f.f.Source, m.name, f.srcBad)
				continue
			}
			if f.have == f.src {
				continue
			}
			u := Upload{Role: s.name + "-" + f.kind, Path: f.f.Path, Source: f.f.Source, SHA256: f.src, Mode: 0o644}
			if u.IsKey() {
				u.Mode = 0o600
			}
			before := "(absent)"
			if f.have != "" {
				before = "sha256:" + shortHash(f.have)
			}
			after := "sha256:" + shortHash(f.src)
			if f.info != nil && f.info.Serial != "" {
				after += fmt.Sprintf(" (serial %s, expires %s)", shortHash(f.info.Serial), f.info.NotAfter.Format("2006-01-02"))
			}
			ch := Change{Attr: f.f.Path, Before: before, After: after}
			if u.NeedsRestart() {
				restart = append(restart, ch)
				uploads = append(uploads, Step{Action: UploadFile, Cluster: cp.c.Name, Member: m.name, MemberID: m.id(), Leader: m.leader,
					Reason:  fmt.Sprintf("The %s CA bundle on the host differs from its source %s: upload it atomically; etcd reads the CA bundle only at start, so a restart follows", s.name, f.f.Source),
					Changes: []Change{ch}, Uploads: []Upload{u}})
				continue
			}
			pair.Changes = append(pair.Changes, ch)
			pair.Uploads = append(pair.Uploads, u)
		}
		if len(pair.Uploads) > 0 {
			pair.Action, pair.Cluster, pair.Member, pair.MemberID, pair.Leader = UploadFile, cp.c.Name, m.name, m.id(), m.leader
			switch {
			case len(pair.Uploads) == 2:
				pair.Reason = fmt.Sprintf("The %s key and certificate on the host differ from their sources: upload both and swap them in together (key mode 0600); etcd uses them from the next TLS connection, no restart needed", s.name)
			case pair.Uploads[0].IsKey():
				pair.Reason = fmt.Sprintf("The %s key on the host differs from its source: upload it atomically (mode 0600); etcd uses it from the next TLS connection, no restart needed", s.name)
			default:
				pair.Reason = fmt.Sprintf("The %s certificate on the host differs from its source: upload it atomically; etcd uses it from the next TLS connection, no restart needed", s.name)
			}
			uploads = append(uploads, pair)
		}
	}
	// CA bundles of both sides first: trust widens before any leaf changes.
	sort.SliceStable(uploads, func(i, j int) bool {
		return uploads[i].Uploads[0].NeedsRestart() && !uploads[j].Uploads[0].NeedsRestart()
	})
	return uploads, restart
}

func sha(ci *state.CertInfo, key bool) string {
	if ci == nil {
		return ""
	}
	if key {
		return ci.KeySHA256
	}
	return ci.SHA256
}

// bad says why a source cannot be uploaded ("" when it can).
func bad(ci *state.CertInfo, key bool) string {
	switch {
	case ci == nil:
		return "it was not read"
	case key && ci.KeyMissing:
		return "the file does not exist"
	case key && ci.KeySHA256 == "":
		return orNone(ci.KeyError)
	case key:
		return ""
	case ci.Missing:
		return "the file does not exist"
	case ci.Error != "":
		return ci.Error
	}
	return ""
}

// effectiveTLS returns, per configured side, the files member m will run
// with after the planned uploads.
func (cp *clusterPlanner) effectiveTLS(m *member) []effective {
	var out []effective
	for _, s := range sides(m.desired.TLS) {
		if s.ep == nil {
			continue
		}
		hostCert, srcCert := m.host.Cert(s.name+"-cert"), m.host.Source(s.name+"-cert")
		e := effective{side: s.name, cert: hostCert, ca: m.host.Cert(s.name + "-ca"), hostCert: hostCert, hostCA: m.host.Cert(s.name + "-ca")}
		if s.ep.Cert.Source != "" {
			e.cert = srcCert
		}
		if s.ep.CA.Source != "" {
			e.ca = m.host.Source(s.name + "-ca")
		}
		keyFrom := hostCert
		if s.ep.Key.Source != "" {
			keyFrom = srcCert
		}
		switch {
		case keyFrom == nil:
			e.keyWhy = "it was not observed"
		case keyFrom.KeyMissing:
			e.keyWhy = fmt.Sprintf("the key file %s does not exist", keyFrom.KeyPath)
		case keyFrom.KeyPublicSHA256 == "":
			e.keyWhy = fmt.Sprintf("the key file %s could not be read: %s", keyFrom.KeyPath, orNone(keyFrom.KeyError))
		default:
			e.keyPub = keyFrom.KeyPublicSHA256
		}
		u := m.desired.ClientURL
		if s.name == "peer" {
			u = m.desired.PeerURL
		}
		if pu, err := url.Parse(u); err == nil {
			e.urlHost = pu.Hostname()
		}
		out = append(out, e)
	}
	return out
}

// checkCert checks one side of one member.
func (cp *clusterPlanner) checkCert(m *member, e effective, now time.Time) {
	what := e.side + " certificate"
	switch {
	case e.cert == nil || e.cert.Missing:
		path := ""
		if e.cert != nil {
			path = " " + e.cert.Path
		}
		cp.refuse(m.name, 0, "Certificate file missing",
			"The %s%s of member %s does not exist, and the configuration names no cert_source to upload. etcd cannot start its %s listener without it.", what, path, m.name, e.side)
		return
	case e.cert.Error != "" || len(e.cert.DER) == 0:
		cp.refuse(m.name, 0, "Certificate unreadable", "The %s %s of member %s cannot be used: %s.", what, e.cert.Path, m.name, orNone(e.cert.Error))
		return
	}
	c := e.cert
	switch left := c.NotAfter.Sub(now); {
	case !now.IsZero() && left <= 0:
		cp.refuse(m.name, 0, "Certificate expired",
			"The %s %s of member %s (serial %s) expired at %s. Peers and clients reject it; issue a new certificate, set it as the source and plan again.", what, c.Path, m.name, c.Serial, c.NotAfter.Format(time.RFC3339))
	case !now.IsZero() && left < m.desired.TLS.MinRemaining:
		cp.warn(m.name, "Certificate expires soon",
			"The %s %s of member %s (serial %s) expires at %s, in %s, within min_remaining = %s. Rotate it: issue a new certificate and point the source at it.", what, c.Path, m.name, c.Serial, c.NotAfter.Format(time.RFC3339), roundDur(left), roundDur(m.desired.TLS.MinRemaining))
	}
	if !now.IsZero() && now.Before(c.NotBefore) {
		cp.warn(m.name, "Certificate not yet valid", "The %s %s of member %s is valid only from %s.", what, c.Path, m.name, c.NotBefore.Format(time.RFC3339))
	}
	cert, err := x509.ParseCertificate(c.DER[0])
	if err != nil {
		cp.refuse(m.name, 0, "Certificate unreadable", "The %s %s of member %s does not parse: %s.", what, c.Path, m.name, err)
		return
	}
	if e.urlHost != "" {
		if err := cert.VerifyHostname(e.urlHost); err != nil {
			cp.refuse(m.name, 0, "Certificate SAN missing",
				"The %s %s of member %s does not cover %s, the host of its %s URL (its SANs: %s). %s Issue a certificate whose SANs include %s.", what, c.Path, m.name, e.urlHost, e.side, sanList(c), sanWhy(e.side), e.urlHost)
		}
	}
	if e.keyPub == "" {
		cp.refuse(m.name, 0, "Key not usable", "The %s key of member %s cannot be checked against its certificate: %s.", e.side, m.name, e.keyWhy)
	} else if e.keyPub != c.PublicKeySHA256 {
		cp.refuse(m.name, 0, "Key does not match certificate",
			"The %s key of member %s does not belong to its certificate %s (serial %s): their public keys differ, so etcd would fail every TLS handshake. Install the key issued with this certificate.", e.side, m.name, c.Path, c.Serial)
	}
	if e.ca != nil && len(e.ca.DER) > 0 {
		if err := verifyChain(cert, c, e.ca, now); err != nil {
			cp.refuse(m.name, 0, "Certificate not signed by the configured CA",
				"The %s %s of member %s (issuer %s) does not chain to the CA bundle %s (%s): %s.", what, c.Path, m.name, c.Issuer, e.ca.Path, e.ca.Subject, err)
		}
	} else if e.ca != nil && e.ca.Missing {
		cp.refuse(m.name, 0, "CA file missing", "The %s CA file %s of member %s does not exist, and the configuration names no ca_source to upload.", e.side, e.ca.Path, m.name)
	}
}

// checkCAExpiry warns once per CA certificate of a bundle that expires
// within min_remaining (an expired one makes the chain check refuse).
func (cp *clusterPlanner) checkCAExpiry(m *member, e effective, now time.Time, seen map[string]bool) {
	if e.ca == nil || now.IsZero() {
		return
	}
	for _, der := range e.ca.DER {
		ca, err := x509.ParseCertificate(der)
		if err != nil || seen[string(der)] {
			continue
		}
		seen[string(der)] = true
		if left := ca.NotAfter.Sub(now); left > 0 && left < m.desired.TLS.MinRemaining {
			cp.warn("", "CA certificate expires soon",
				"The CA certificate %s (serial %s) in %s expires at %s, in %s, within min_remaining = %s. Every certificate it issued stops verifying then: rotate the CA (see docs/tls.md).", ca.Subject, ca.SerialNumber.Text(16), e.ca.Path, ca.NotAfter.Format(time.RFC3339), roundDur(left), roundDur(m.desired.TLS.MinRemaining))
		}
	}
}

// checkPeerTrust refuses a peer certificate that another member's peer CA
// bundle does not trust: those two members could not talk once both run
// the planned files (the usual mistake of a CA rotation done out of order).
func (cp *clusterPlanner) checkPeerTrust(peers []*memberTLS, now time.Time) {
	for _, a := range peers {
		if a.e.cert == nil || len(a.e.cert.DER) == 0 {
			continue
		}
		cert, err := x509.ParseCertificate(a.e.cert.DER[0])
		if err != nil {
			continue
		}
		for _, b := range peers {
			if a == b || b.e.ca == nil || len(b.e.ca.DER) == 0 {
				continue
			}
			if a.e.ca != nil && a.e.ca.SHA256 == b.e.ca.SHA256 {
				continue // same bundle: checked by checkCert
			}
			if err := verifyChain(cert, a.e.cert, b.e.ca, now); err != nil {
				cp.refuse(a.m.name, 0, "Peer certificate not trusted by another member",
					"The peer certificate %s of member %s (issuer %s) does not chain to the peer CA bundle %s of member %s: %s. The two members could not talk to each other. During a CA rotation, distribute a bundle with both CAs to every member before reissuing any certificate.", a.e.cert.Path, a.m.name, a.e.cert.Issuer, b.e.ca.Path, b.m.name, err)
			}
		}
	}
	// A new peer certificate is swapped in during the apply, while the
	// other members still run the CA bundle their host holds now: they
	// must trust it from that moment.
	for _, a := range peers {
		if a.e.cert == nil || len(a.e.cert.DER) == 0 || a.e.hostCert == nil || a.e.cert.SHA256 == a.e.hostCert.SHA256 {
			continue
		}
		cert, err := x509.ParseCertificate(a.e.cert.DER[0])
		if err != nil {
			continue
		}
		for _, b := range peers {
			if a == b || b.e.hostCA == nil || len(b.e.hostCA.DER) == 0 {
				continue
			}
			if err := verifyChain(cert, a.e.cert, b.e.hostCA, now); err != nil {
				cp.refuse(a.m.name, 0, "Certificate rotation ahead of CA distribution",
					"The new peer certificate of member %s (issuer %s) is not trusted by the peer CA bundle %s that member %s runs now (%s). %s would reject %s's connections from the moment the certificate is swapped in. Rotate a CA in three applies: 1. a bundle with the old and the new CA on every member; 2. new leaves under the new CA; 3. the bundle without the old CA.", a.m.name, a.e.cert.Issuer, b.e.hostCA.Path, b.m.name, err, b.m.name, a.m.name)
			}
		}
	}
}

// caRotationPhase names the phase of a CA rotation the planned peer files
// make, so the reviewer sees where the rotation stands. Each phase is its
// own plan and apply; the checks above refuse a phase taken out of order.
func (cp *clusterPlanner) caRotationPhase(peers []*memberTLS) {
	var added, dropped, reissued bool
	for _, x := range peers {
		have, want := derSet(x.e.hostCA), derSet(x.e.ca)
		for d := range want {
			added = added || !have[d]
		}
		for d := range have {
			dropped = dropped || !want[d]
		}
		if x.e.hostCert != nil && x.e.cert != nil && x.e.hostCert.Issuer != x.e.cert.Issuer {
			reissued = true
		}
	}
	switch {
	case added && !dropped && !reissued:
		cp.warn("", "CA rotation phase 1 of 3",
			"The peer CA bundles gain a CA: this apply distributes them, restarting each member in turn (etcd loads trusted-ca-file at start). Next, as separate plans: phase 2 reissues every certificate under the new CA, phase 3 drops the old CA from the bundles.")
	case reissued && !added && !dropped:
		cp.warn("", "CA rotation phase 2 of 3",
			"Certificates move to another issuer that every member already trusts: they are swapped in without restarts. Next, as a separate plan: phase 3 drops the old CA from the bundles.")
	case dropped && !added && !reissued:
		cp.warn("", "CA rotation phase 3 of 3",
			"The peer CA bundles lose a CA: this apply distributes them, restarting each member in turn. Make sure no client still uses a certificate from the dropped CA.")
	}
}

func derSet(ci *state.CertInfo) map[string]bool {
	out := map[string]bool{}
	if ci != nil {
		for _, d := range ci.DER {
			out[string(d)] = true
		}
	}
	return out
}

// verifyChain checks cert against the bundle, at a time inside the
// certificate's validity so that an expired certificate is reported as
// expired, not as untrusted.
func verifyChain(cert *x509.Certificate, c *state.CertInfo, bundle *state.CertInfo, now time.Time) error {
	roots := x509.NewCertPool()
	for _, der := range bundle.DER {
		if ca, err := x509.ParseCertificate(der); err == nil {
			roots.AddCert(ca)
		}
	}
	inter := x509.NewCertPool()
	for _, der := range c.DER[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	at := now
	if at.IsZero() || !at.Before(cert.NotAfter) {
		at = cert.NotAfter.Add(-time.Second)
	}
	if at.Before(cert.NotBefore) {
		at = cert.NotBefore.Add(time.Second)
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func sanList(c *state.CertInfo) string {
	var s []string
	for _, d := range c.DNSNames {
		s = append(s, "DNS:"+d)
	}
	for _, ip := range c.IPs {
		s = append(s, "IP:"+ip)
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func sanWhy(side string) string {
	if side == "peer" {
		return "Since 3.2 etcd checks a peer's IP SANs against its remote address, so the other members would reject its connections."
	}
	return "Clients verify the server name, so they would reject the member."
}

func roundDur(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}

// shortHash shortens a hash or serial for display.
func shortHash(h string) string {
	if len(h) > 8 {
		return h[:8] + ".."
	}
	return h
}
