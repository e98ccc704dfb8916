package plan_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/internal/pki"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

var tlsNow = time.Now().UTC()

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// certFacts describes a PEM certificate file (and its key) as the observer
// does: hashes, DER, public-key hashes; never the key bytes.
func certFacts(role, path, keyPath string, certPEM, keyPEM []byte) state.CertInfo {
	ci := state.CertInfo{Role: role, Path: path, SHA256: hashHex(certPEM)}
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		ci.DER = append(ci.DER, b.Bytes)
	}
	c, err := x509.ParseCertificate(ci.DER[0])
	if err != nil {
		panic(err)
	}
	ci.Serial, ci.Subject, ci.Issuer = c.SerialNumber.Text(16), c.Subject.String(), c.Issuer.String()
	ci.DNSNames, ci.NotBefore, ci.NotAfter = c.DNSNames, c.NotBefore, c.NotAfter
	for _, ip := range c.IPAddresses {
		ci.IPs = append(ci.IPs, ip.String())
	}
	ci.PublicKeySHA256 = hashHex(c.RawSubjectPublicKeyInfo)
	if keyPEM != nil {
		b, _ := pem.Decode(keyPEM)
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			panic(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public())
		ci.KeyPath, ci.KeySHA256, ci.KeyPublicSHA256 = keyPath, hashHex(keyPEM), hashHex(der)
		ci.KeyMatches = ci.KeyPublicSHA256 == ci.PublicKeySHA256
	}
	return ci
}

// tlsLab is a converged 3-member mTLS cluster whose hosts hold exactly
// their sources; tests then change the files on either side.
type tlsLab struct {
	ca    *pki.CA
	c     *schema.Cluster
	oc    *state.Cluster
	files map[string][]byte // host path or source path -> bytes, per member: "etcd-1:" + path
}

func newTLSLab(t *testing.T) *tlsLab {
	t.Helper()
	ca, err := pki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	l := &tlsLab{ca: ca, c: plantest.WithTLS(plantest.Cluster(1, 2, 3), "/src")}
	l.oc = plantest.Observe(l.c, 1)
	for i, m := range l.c.Members {
		for _, side := range []string{"client", "peer"} {
			leaf, err := ca.Issue(pki.Request{CommonName: m.Name, IPs: []string{fmt.Sprintf("10.0.0.%d", i+1)}, Usage: pki.Peer})
			if err != nil {
				t.Fatal(err)
			}
			l.set(m.Name, side, ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, true, true)
		}
	}
	return l
}

func (l *tlsLab) endpoint(member, side string) *schema.TLSEndpoint {
	m := l.c.Member(member)
	if side == "peer" {
		return m.TLS.Peer
	}
	return m.TLS.Client
}

// set records files for one side of a member on the host and/or as
// sources.
func (l *tlsLab) set(member, side string, caPEM, certPEM, keyPEM []byte, host, source bool) {
	ep := l.endpoint(member, side)
	h := l.oc.Hosts[member]
	put := func(list *[]state.CertInfo, ci state.CertInfo) {
		for i := range *list {
			if (*list)[i].Role == ci.Role {
				(*list)[i] = ci
				return
			}
		}
		*list = append(*list, ci)
	}
	if host {
		put(&h.Certs, certFacts(side+"-ca", ep.CA.Path, "", caPEM, nil))
		put(&h.Certs, certFacts(side+"-cert", ep.Cert.Path, ep.Key.Path, certPEM, keyPEM))
	}
	if source {
		put(&h.Sources, certFacts(side+"-ca", ep.CA.Source, "", caPEM, nil))
		put(&h.Sources, certFacts(side+"-cert", ep.Cert.Source, ep.Key.Source, certPEM, keyPEM))
	}
}

func (l *tlsLab) plan() *plan.Plan {
	return plan.Make(plantest.Config(l.c), plantest.Observed(l.oc), plan.Options{Meta: plan.Meta{Time: tlsNow}})
}

func messages(ws []plan.Warning) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "[%s] %s: %s\n", w.Member, w.Summary, w.Detail)
	}
	return b.String()
}

func stepList(p *plan.Plan) string {
	var s []string
	for _, st := range p.Steps {
		x := st.Action.String() + " " + st.Member
		for _, u := range st.Uploads {
			x += " " + u.Role
		}
		s = append(s, x)
	}
	return strings.Join(s, "; ")
}

func TestTLSConverged(t *testing.T) {
	l := newTLSLab(t)
	tool, _ := l.ca.Issue(pki.Request{CommonName: "etcdform", Usage: pki.Client})
	ci := certFacts("tool-cert", "/local/client.pem", "", tool.CertPEM, nil)
	l.oc.ToolCert = &ci
	p := l.plan()
	if len(p.Steps) != 0 || len(p.Refusals) != 0 || len(p.Warnings) != 0 {
		t.Fatalf("converged TLS cluster: steps %q\nrefusals:\n%swarnings:\n%s", stepList(p), messages(p.Refusals), messages(p.Warnings))
	}
}

func TestTLSChecks(t *testing.T) {
	cases := map[string]struct {
		edit    func(t *testing.T, l *tlsLab)
		refusal string // summary and text the refusal must contain, "" for none
		want    []string
		warning string
	}{
		"SAN missing": {
			edit: func(t *testing.T, l *tlsLab) {
				leaf, _ := l.ca.Issue(pki.Request{CommonName: "etcd-2", DNSNames: []string{"etcd-2"}, IPs: []string{"127.0.0.1"}, Usage: pki.Peer})
				l.set("etcd-2", "peer", l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, true, true)
			},
			refusal: "Certificate SAN missing",
			want:    []string{"etcd-2", "does not cover 10.0.0.2", "IP:127.0.0.1"},
		},
		"expires soon": {
			edit: func(t *testing.T, l *tlsLab) {
				leaf, _ := l.ca.Issue(pki.Request{CommonName: "etcd-3", IPs: []string{"10.0.0.3"}, Usage: pki.Peer, NotAfter: tlsNow.Add(10 * 24 * time.Hour)})
				l.set("etcd-3", "client", l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, true, true)
			},
			warning: "Certificate expires soon",
			want:    []string{"etcd-3", "min_remaining = 30d"},
		},
		"expired": {
			edit: func(t *testing.T, l *tlsLab) {
				leaf, _ := l.ca.Issue(pki.Request{CommonName: "etcd-3", IPs: []string{"10.0.0.3"}, Usage: pki.Peer,
					NotBefore: tlsNow.Add(-48 * time.Hour), NotAfter: tlsNow.Add(-time.Hour)})
				l.set("etcd-3", "client", l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, true, true)
			},
			refusal: "Certificate expired",
			want:    []string{"etcd-3", "expired at"},
		},
		"key does not match": {
			edit: func(t *testing.T, l *tlsLab) {
				a, _ := l.ca.Issue(pki.Request{CommonName: "etcd-1", IPs: []string{"10.0.0.1"}, Usage: pki.Peer})
				b, _ := l.ca.Issue(pki.Request{CommonName: "etcd-1", IPs: []string{"10.0.0.1"}, Usage: pki.Peer})
				l.set("etcd-1", "client", l.ca.CertPEM, a.CertPEM, b.KeyPEM, true, true)
			},
			refusal: "Key does not match certificate",
			want:    []string{"etcd-1", "public keys differ"},
		},
		"not signed by the configured CA": {
			edit: func(t *testing.T, l *tlsLab) {
				other, _ := pki.NewCA("rogue CA")
				leaf, _ := other.Issue(pki.Request{CommonName: "etcd-2", IPs: []string{"10.0.0.2"}, Usage: pki.Peer})
				l.set("etcd-2", "client", l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, true, true)
			},
			refusal: "Certificate not signed by the configured CA",
			want:    []string{"etcd-2", "rogue CA"},
		},
		"CA expires soon": {
			edit: func(t *testing.T, l *tlsLab) {
				short, _ := pki.NewCAUntil("short-lived CA", tlsNow.Add(3*24*time.Hour))
				bundle := append(append([]byte{}, l.ca.CertPEM...), short.CertPEM...)
				for _, m := range l.c.Members {
					for _, side := range []string{"client", "peer"} {
						for _, list := range []*[]state.CertInfo{&l.oc.Hosts[m.Name].Certs, &l.oc.Hosts[m.Name].Sources} {
							for j := range *list {
								if (*list)[j].Role == side+"-ca" {
									(*list)[j] = certFacts(side+"-ca", (*list)[j].Path, "", bundle, nil)
								}
							}
						}
					}
				}
			},
			warning: "CA certificate expires soon",
			want:    []string{"short-lived CA", "min_remaining = 30d"},
		},
		"tool certificate from a CA the members do not trust": {
			edit: func(t *testing.T, l *tlsLab) {
				other, _ := pki.NewCA("other CA")
				leaf, _ := other.Issue(pki.Request{CommonName: "etcdform", Usage: pki.Client})
				ci := certFacts("tool-cert", "/local/client.pem", "", leaf.CertPEM, nil)
				l.oc.ToolCert = &ci
			},
			refusal: "Tool certificate not trusted by member",
			want:    []string{"of member etcd-", "/local/client.pem", "other CA"},
		},
		"tool certificate expires soon": {
			edit: func(t *testing.T, l *tlsLab) {
				leaf, _ := l.ca.Issue(pki.Request{CommonName: "etcdform", Usage: pki.Client, NotAfter: tlsNow.Add(24 * time.Hour)})
				ci := certFacts("tool-cert", "/local/client.pem", "", leaf.CertPEM, nil)
				l.oc.ToolCert = &ci
			},
			warning: "Tool certificate expires soon",
			want:    []string{"/local/client.pem"},
		},
		"peer CA swapped on one member only": {
			edit: func(t *testing.T, l *tlsLab) {
				newCA, _ := pki.NewCA("new CA")
				leaf, _ := newCA.Issue(pki.Request{CommonName: "etcd-1", IPs: []string{"10.0.0.1"}, Usage: pki.Peer})
				l.set("etcd-1", "peer", newCA.CertPEM, leaf.CertPEM, leaf.KeyPEM, false, true)
			},
			refusal: "Peer certificate not trusted by another member",
			want:    []string{"etcd-1", "distribute a bundle with both CAs"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := newTLSLab(t)
			tc.edit(t, l)
			p := l.plan()
			list, summary := p.Refusals, tc.refusal
			if tc.warning != "" {
				list, summary = p.Warnings, tc.warning
				if len(p.Refusals) > 0 {
					t.Fatalf("unexpected refusals:\n%s", messages(p.Refusals))
				}
			}
			var hit *plan.Warning
			for i := range list {
				if list[i].Summary == summary {
					hit = &list[i]
				}
			}
			if hit == nil {
				t.Fatalf("no %q in:\n%s", summary, messages(list))
			}
			text := hit.Member + " " + hit.Detail
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q does not say %q", text, w)
				}
			}
		})
	}
}

func TestTLSLeafRotationPlansUploadsWithoutRestart(t *testing.T) {
	l := newTLSLab(t)
	leaf, _ := l.ca.Issue(pki.Request{CommonName: "etcd-2", IPs: []string{"10.0.0.2"}, Usage: pki.Peer})
	l.set("etcd-2", "client", l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, false, true)
	p := l.plan()
	if len(p.Refusals) > 0 {
		t.Fatalf("refusals:\n%s", messages(p.Refusals))
	}
	// Key and certificate go in one step: apply swaps them together.
	if got, want := stepList(p), "upload-file etcd-2 client-key client-cert"; got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	key := p.Steps[0].Uploads[0]
	if key.Mode != 0o600 || key.Path != "/etc/etcd/pki/etcd-2-client.key" || key.Source != "/src/etcd-2-client.key" || key.SHA256 != hashHex(leaf.KeyPEM) {
		t.Fatalf("key upload %+v", key)
	}
	if c := p.Steps[0].Uploads[1]; c.Mode != 0o644 || c.SHA256 != hashHex(leaf.CertPEM) {
		t.Fatalf("cert upload %+v", c)
	}
	noKeyMaterial(t, p, leaf.KeyPEM)
}

func TestTLSCARotationRestartsEveryMemberLeaderLast(t *testing.T) {
	l := newTLSLab(t)
	newCA, _ := pki.NewCA("new CA")
	bundle := append(append([]byte{}, l.ca.CertPEM...), newCA.CertPEM...)
	// Phase 1: every member gets the bundle; leaves unchanged.
	for _, m := range l.c.Members {
		for _, side := range []string{"client", "peer"} {
			src := l.oc.Hosts[m.Name].Sources
			for i := range src {
				if src[i].Role == side+"-ca" {
					src[i] = certFacts(side+"-ca", src[i].Path, "", bundle, nil)
				}
			}
		}
	}
	p := l.plan()
	if len(p.Refusals) > 0 {
		t.Fatalf("refusals:\n%s", messages(p.Refusals))
	}
	// The client and peer CA share one host path: one upload per member.
	want := "snapshot ; upload-file etcd-2 client-ca; restart etcd-2; upload-file etcd-3 client-ca; restart etcd-3; upload-file etcd-1 client-ca; restart etcd-1"
	if got := stepList(p); got != want {
		t.Fatalf("steps\n %q\nwant\n %q", got, want)
	}
	if r := p.Steps[len(p.Steps)-1]; !r.Leader || !strings.Contains(r.Reason, "trusted-ca-file") {
		t.Fatalf("last restart %+v", r)
	}
	if !strings.Contains(messages(p.Warnings), "CA rotation phase 1 of 3") {
		t.Fatalf("phase not shown:\n%s", messages(p.Warnings))
	}
}

func TestTLSCARotationOutOfOrderIsRefused(t *testing.T) {
	cases := map[string]struct {
		bundle  func(old, new *pki.CA) []byte // the peer CA source of every member
		refusal string
	}{
		"new leaves before the bundle": {
			bundle:  func(old, new *pki.CA) []byte { return old.CertPEM },
			refusal: "Certificate rotation ahead of CA distribution",
		},
		"new CA and new leaves in one step": {
			bundle:  func(old, new *pki.CA) []byte { return new.CertPEM },
			refusal: "Certificate rotation ahead of CA distribution",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := newTLSLab(t)
			newCA, _ := pki.NewCA("new CA")
			for i, m := range l.c.Members {
				leaf, _ := newCA.Issue(pki.Request{CommonName: m.Name, IPs: []string{fmt.Sprintf("10.0.0.%d", i+1)}, Usage: pki.Peer})
				l.set(m.Name, "peer", tc.bundle(l.ca, newCA), leaf.CertPEM, leaf.KeyPEM, false, true)
			}
			p := l.plan()
			if !strings.Contains(messages(p.Refusals), tc.refusal) {
				t.Fatalf("want %q in refusals:\n%s", tc.refusal, messages(p.Refusals))
			}
		})
	}
	t.Run("phase 2 after the bundle is distributed", func(t *testing.T) {
		l := newTLSLab(t)
		newCA, _ := pki.NewCA("new CA")
		bundle := append(append([]byte{}, l.ca.CertPEM...), newCA.CertPEM...)
		for i, m := range l.c.Members {
			leaf, _ := newCA.Issue(pki.Request{CommonName: m.Name, IPs: []string{fmt.Sprintf("10.0.0.%d", i+1)}, Usage: pki.Peer})
			// The host already holds the bundle (phase 1 applied).
			ep := l.endpoint(m.Name, "peer")
			for _, list := range []*[]state.CertInfo{&l.oc.Hosts[m.Name].Certs, &l.oc.Hosts[m.Name].Sources} {
				for j := range *list {
					if (*list)[j].Role == "peer-ca" {
						path := ep.CA.Path
						if list == &l.oc.Hosts[m.Name].Sources {
							path = ep.CA.Source
						}
						(*list)[j] = certFacts("peer-ca", path, "", bundle, nil)
					}
				}
			}
			l.set(m.Name, "peer", bundle, leaf.CertPEM, leaf.KeyPEM, false, true)
		}
		p := l.plan()
		if len(p.Refusals) > 0 {
			t.Fatalf("refusals:\n%s", messages(p.Refusals))
		}
		for _, s := range p.Steps {
			if s.Action != plan.UploadFile {
				t.Fatalf("phase 2 needs uploads only: %s", stepList(p))
			}
		}
		if !strings.Contains(messages(p.Warnings), "CA rotation phase 2 of 3") {
			t.Fatalf("phase not shown:\n%s", messages(p.Warnings))
		}
	})
}

// noKeyMaterial renders p as a plan file, JSON and Markdown and checks
// that none holds a private key or its bytes.
func noKeyMaterial(t *testing.T, p *plan.Plan, keyPEM []byte) {
	t.Helper()
	b, _ := pem.Decode(keyPEM)
	needles := [][]byte{[]byte("PRIVATE KEY"), keyPEM, b.Bytes, []byte(hex.EncodeToString(b.Bytes)), bytes.TrimSpace(bytes.Split(keyPEM, []byte("\n"))[1])}
	var file bytes.Buffer
	if err := planfile.Write(&file, p); err != nil {
		t.Fatal(err)
	}
	back, err := planfile.Read(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p.Steps[0].Uploads, back.Steps[0].Uploads); diff != "" {
		t.Fatalf("uploads did not round-trip (-want +got):\n%s", diff)
	}
	outputs := map[string][]byte{"plan file": file.Bytes()}
	for name, f := range map[string]views.PlanFormat{"json": views.PlanFormatJSON, "markdown": views.PlanFormatMarkdown, "human": views.PlanFormatHuman} {
		var w bytes.Buffer
		if err := views.NewPlanView(f, false).Plan(&w, p); err != nil {
			t.Fatal(err)
		}
		outputs[name] = w.Bytes()
		if !bytes.Contains(w.Bytes(), []byte(p.Steps[0].Uploads[0].Path)) {
			t.Errorf("%s does not name the key's path (the scan would pass vacuously):\n%s", name, w.Bytes())
		}
	}
	for name, out := range outputs {
		for _, n := range needles {
			if len(n) > 0 && bytes.Contains(out, n) {
				t.Errorf("%s holds key material %.20q", name, n)
			}
		}
	}
}

func TestTLSDownMemberGetsItsFilesBeforeItStarts(t *testing.T) {
	l := newTLSLab(t)
	leaf, _ := l.ca.Issue(pki.Request{CommonName: "etcd-2", IPs: []string{"10.0.0.2"}, Usage: pki.Peer})
	l.set("etcd-2", "peer", l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, false, true)
	lm := l.oc.Member("etcd-2")
	lm.Status, lm.StatusError = nil, "tls: bad certificate"
	l.oc.Hosts["etcd-2"].ServiceState = "stopped"
	p := l.plan()
	if got, want := stepList(p), "snapshot ; upload-file etcd-2 peer-key peer-cert; start-member etcd-2"; got != want {
		t.Fatalf("steps %q, want %q\nrefusals:\n%s", got, want, messages(p.Refusals))
	}
}

func TestTLSPlaintextToTLSIsRefused(t *testing.T) {
	plain := plantest.Cluster(1, 2, 3)
	oc := plantest.Observe(plain, 1)
	want := plantest.WithTLS(plantest.Cluster(1, 2, 3), "/src")
	p := plan.Make(plantest.Config(want), plantest.Observed(oc), plan.Options{Meta: plan.Meta{Time: tlsNow}})
	if len(p.Steps) != 0 || !strings.Contains(messages(p.Refusals), "Plaintext to TLS not automated") || !strings.Contains(messages(p.Refusals), "docs/tls.md") {
		t.Fatalf("steps %q, refusals:\n%s", stepList(p), messages(p.Refusals))
	}
}

func TestTLSNewMemberGetsItsFilesBeforeItIsAdded(t *testing.T) {
	l := newTLSLab(t)
	want := plantest.WithTLS(plantest.Cluster(1, 2, 3, 4), "/src")
	l.c.Members = append(l.c.Members, want.Member("etcd-4"))
	h := &state.Host{Member: "etcd-4", Address: "10.0.0.4", Reachable: true, DataDirEmpty: true, ServiceState: "stopped", BinaryVersion: "3.6.16"}
	for _, role := range []string{"client-ca", "client-cert", "peer-ca", "peer-cert"} {
		h.Certs = append(h.Certs, state.CertInfo{Role: role, Missing: true, KeyMissing: true})
	}
	l.oc.Hosts["etcd-4"] = h
	for _, side := range []string{"client", "peer"} {
		leaf, _ := l.ca.Issue(pki.Request{CommonName: "etcd-4", IPs: []string{"10.0.0.4"}, Usage: pki.Peer})
		l.set("etcd-4", side, l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, false, true)
	}
	l.c.AllowEven = true
	p := l.plan()
	if len(p.Refusals) > 0 {
		t.Fatalf("refusals:\n%s", messages(p.Refusals))
	}
	got := stepList(p)
	want4 := "snapshot ; upload-file etcd-4 client-ca; upload-file etcd-4 client-key client-cert; upload-file etcd-4 peer-key peer-cert; add-learner etcd-4; promote etcd-4"
	if got != want4 {
		t.Fatalf("steps\n %q\nwant\n %q", got, want4)
	}
}

// TestTLSRebuiltHost: a member whose host was rebuilt (down, no WAL, no
// config, none of its TLS files) is removed, its files are uploaded, then
// it is added back as a learner and promoted: etcd would not start
// without them.
func TestTLSRebuiltHost(t *testing.T) {
	l := newTLSLab(t)
	m := l.oc.Members[1]
	if m.Name != "etcd-2" {
		t.Fatalf("member 1 is %s", m.Name)
	}
	l.oc.Members[1].Status, l.oc.Members[1].StatusError = nil, "connection refused"
	h := l.oc.Hosts["etcd-2"]
	h.ServiceState, h.Data, h.DataDirEmpty = "stopped", &state.DataDir{}, true
	h.ConfigExists, h.ConfigContent, h.Config, h.ConfigHash = false, nil, nil, ""
	h.Certs = nil
	p := l.plan()
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals:\n%s", messages(p.Refusals))
	}
	pos := map[string]int{}
	uploaded := map[string]int{} // host path -> step index
	for i, st := range p.Steps {
		if st.Member != "etcd-2" {
			continue
		}
		pos[st.Action.String()] = i
		for _, u := range st.Uploads {
			uploaded[u.Path] = i
		}
	}
	remove, okR := pos["remove-member"]
	add, okA := pos["add-learner"]
	if !okR || !okA || remove > add {
		t.Fatalf("no removal then addition of etcd-2: %s", stepList(p))
	}
	for _, side := range []string{"client", "peer"} {
		ep := l.endpoint("etcd-2", side)
		for _, f := range []string{ep.CA.Path, ep.Cert.Path, ep.Key.Path} {
			if i, ok := uploaded[f]; !ok || i < remove || i > add {
				t.Errorf("etcd-2's %s file %s is not uploaded between its removal and its addition: %s", side, f, stepList(p))
			}
		}
	}
}

// TestTLSQuorumLossRecovery: a TLS cluster lost etcd-1 and etcd-2 with
// their data and their TLS files; the recovery uploads each one's files
// before its add-learner (tlsPlan does not run in a recovery).
func TestTLSQuorumLossRecovery(t *testing.T) {
	l := newTLSLab(t)
	l.oc.LeaderID = 0
	for i, m := range l.oc.Members {
		if m.Name == "etcd-3" {
			l.oc.Members[i].Status.Leader, l.oc.Members[i].Status.RaftAppliedIndex = 0, 500
			continue
		}
		l.oc.Members[i].Status, l.oc.Members[i].StatusError = nil, "connection refused"
		h := l.oc.Hosts[m.Name]
		h.ServiceState, h.Data, h.DataDirEmpty, h.Certs = "stopped", &state.DataDir{}, true, nil
	}
	p := plan.Make(plantest.Config(l.c), plantest.Observed(l.oc), plan.Options{Recover: true, Meta: plan.Meta{Time: tlsNow}})
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals:\n%s", messages(p.Refusals))
	}
	for _, name := range []string{"etcd-1", "etcd-2"} {
		add, uploads := -1, map[string]int{}
		for i, st := range p.Steps {
			if st.Member != name {
				continue
			}
			if st.Action == plan.AddLearner {
				add = i
			}
			for _, u := range st.Uploads {
				uploads[u.Path] = i
			}
		}
		if add < 0 {
			t.Fatalf("%s is not added back: %s", name, stepList(p))
		}
		for _, side := range []string{"client", "peer"} {
			ep := l.endpoint(name, side)
			for _, f := range []string{ep.CA.Path, ep.Cert.Path, ep.Key.Path} {
				if i, ok := uploads[f]; !ok || i > add {
					t.Errorf("%s's %s file %s is not uploaded before its add-learner: %s", name, side, f, stepList(p))
				}
			}
		}
	}
}
