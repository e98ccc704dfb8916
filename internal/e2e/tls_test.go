package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/internal/pki"
)

// tlsSources copies the lab's local pki folder (the *_source files of its
// lab.hcl) to a fresh directory, so a test can change sources without
// touching the lab's own.
func tlsSources(t *testing.T, st *lab.State) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(st.PKIPath(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(st.PKIPath(e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// withSources points lab.hcl's pki/ paths (member sources and the tool's
// credentials) at dir.
func withSources(dir string) func(string) string {
	return func(s string) string { return strings.ReplaceAll(s, `"pki/`, `"`+dir+`/`) }
}

// issueMember writes a new leaf for member h into dir as NAME<kind>.pem and
// NAME<kind>-key.pem (kind "" for client, "-peer"), from ca with the
// request edited by edit, and returns it.
func issueMember(t *testing.T, dir string, ca *pki.CA, h lab.Host, kind string, edit func(*pki.Request)) *pki.Leaf {
	t.Helper()
	r := lab.MemberCertRequest(h.Name, h.Addr)
	if edit != nil {
		edit(&r)
	}
	leaf, err := ca.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	writeSource(t, dir, h.Name+kind+".pem", leaf.CertPEM)
	writeSource(t, dir, h.Name+kind+"-key.pem", leaf.KeyPEM)
	return leaf
}

func writeSource(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedSerial returns the serial of the certificate addr serves on a new
// connection, verified with the lab's client credentials.
func servedSerial(t *testing.T, st *lab.State, addr string) (string, error) {
	t.Helper()
	cfg, err := st.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	d := &tls.Dialer{Config: cfg}
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Text(16), nil
}

func refusal(p planJSON, summary string) *message {
	for i := range p.Refusals {
		if p.Refusals[i].Summary == summary {
			return &p.Refusals[i]
		}
	}
	return nil
}

func warning(p planJSON, summary string) *message {
	for i := range p.Warnings {
		if p.Warnings[i].Summary == summary {
			return &p.Warnings[i]
		}
	}
	return nil
}

// keyNeedles are the forms a leaked key would take in an output: the PEM
// header, and its base64 body lines.
func keyNeedles(t *testing.T, dir string) [][]byte {
	t.Helper()
	needles := [][]byte{[]byte("PRIVATE KEY")}
	matches, _ := filepath.Glob(filepath.Join(dir, "*-key.pem"))
	if len(matches) == 0 {
		t.Fatal("no key files to look for")
	}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		needles = append(needles, []byte(base64.StdEncoding.EncodeToString(b.Bytes)[:40]))
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) > 20 && !bytes.HasPrefix(line, []byte("-----")) {
				needles = append(needles, line)
			}
		}
	}
	return needles
}

func assertNoKeys(t *testing.T, what string, out []byte, needles [][]byte) {
	t.Helper()
	for _, n := range needles {
		if bytes.Contains(out, n) {
			t.Errorf("%s holds key material (%.24q...)", what, n)
		}
	}
}

func TestTLSE2E(t *testing.T) {
	st, ca := upTLSLab(t, lab.Options{Members: 3})
	members := st.Members()

	t.Run("a converged TLS lab plans no change", func(t *testing.T) {
		p, code := planAsJSON(t, config(t, st, withSources(st.PKIPath(""))))
		if code != 0 || len(p.Steps) != 0 || len(p.Refusals) != 0 || len(p.Warnings) != 0 {
			t.Fatalf("exit %d, steps %v, refusals %+v, warnings %+v; want exit 0 and nothing", code, actions(p), p.Refusals, p.Warnings)
		}
	})

	t.Run("the tool with a CA that did not sign the members fails clearly, never insecure", func(t *testing.T) {
		dir := tlsSources(t, st)
		other, err := pki.NewCA("some other CA")
		if err != nil {
			t.Fatal(err)
		}
		writeSource(t, dir, "other-ca.pem", other.CertPEM)
		for name, run := range map[string]func() (string, int){
			"tool block": func() (string, int) {
				cfg := config(t, st, func(s string) string {
					s = withSources(dir)(s)
					return strings.Replace(s, `ca_file   = "`+dir+`/ca.pem"`, `ca_file   = "`+dir+`/other-ca.pem"`, 1)
				})
				out, _, code := cli(t, "plan", "--json", cfg)
				return out, code
			},
			"ETCDFORM_ETCD_CA": func() (string, int) {
				out, _, code := cliEnv(t, []string{"ETCDFORM_ETCD_CA=" + filepath.Join(dir, "other-ca.pem")}, "plan", "--json", config(t, st, withSources(dir)))
				return out, code
			},
		} {
			t.Run(name, func(t *testing.T) {
				out, code := run()
				if code != 1 {
					t.Fatalf("exit %d, want 1", code)
				}
				if !strings.Contains(out, "Cluster not reachable") || !strings.Contains(out, members[0].ClientURL()) || !strings.Contains(out, "unknown authority") {
					t.Fatalf("the refusal does not name the endpoint and the untrusted certificate:\n%s", out)
				}
			})
		}
	})

	t.Run("a certificate whose SANs lack the member's IP is refused, naming member and SAN", func(t *testing.T) {
		dir := tlsSources(t, st)
		h := members[1]
		issueMember(t, dir, ca, h, "-peer", func(r *pki.Request) { r.IPs = []string{"127.0.0.1"} })
		p, code := planAsJSON(t, config(t, st, withSources(dir)))
		r := refusal(p, "Certificate SAN missing")
		if code != 1 || r == nil {
			t.Fatalf("exit %d, refusals %+v; want exit 1 and Certificate SAN missing", code, p.Refusals)
		}
		if r.Member != h.Name || !strings.Contains(r.Detail, h.Addr) || !strings.Contains(r.Detail, "peer certificate") {
			t.Fatalf("refusal does not name member %s and SAN %s: %+v", h.Name, h.Addr, r)
		}
	})

	t.Run("expiring soon warns, expired is an error", func(t *testing.T) {
		dir := tlsSources(t, st)
		h := members[2]
		issueMember(t, dir, ca, h, "", func(r *pki.Request) { r.NotAfter = time.Now().Add(5 * 24 * time.Hour) })
		p, code := planAsJSON(t, config(t, st, withSources(dir)))
		w := warning(p, "Certificate expires soon")
		if code != 2 || w == nil || w.Member != h.Name || len(p.Refusals) != 0 {
			t.Fatalf("exit %d, warnings %+v, refusals %+v; want exit 2 (the upload) and a warning for %s", code, p.Warnings, p.Refusals, h.Name)
		}
		issueMember(t, dir, ca, h, "", func(r *pki.Request) {
			r.NotBefore, r.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
		})
		p, code = planAsJSON(t, config(t, st, withSources(dir)))
		if r := refusal(p, "Certificate expired"); code != 1 || r == nil || r.Member != h.Name {
			t.Fatalf("exit %d, refusals %+v; want exit 1 and Certificate expired for %s", code, p.Refusals, h.Name)
		}
	})

	t.Run("a key that does not match its certificate is refused", func(t *testing.T) {
		dir := tlsSources(t, st)
		h := members[0]
		stray := issueMember(t, t.TempDir(), ca, h, "", nil)
		writeSource(t, dir, h.Name+"-key.pem", stray.KeyPEM)
		p, code := planAsJSON(t, config(t, st, withSources(dir)))
		if r := refusal(p, "Key does not match certificate"); code != 1 || r == nil || r.Member != h.Name {
			t.Fatalf("exit %d, refusals %+v; want exit 1 and Key does not match certificate for %s", code, p.Refusals, h.Name)
		}
	})

	t.Run("leaf rotation under a continuous mTLS writer: uploads only, zero failed, zero lost", func(t *testing.T) {
		dir := tlsSources(t, st)
		want := map[string]string{} // addr -> new serial
		for _, h := range members {
			c := issueMember(t, dir, ca, h, "", nil)
			p := issueMember(t, dir, ca, h, "-peer", nil)
			want[fmt.Sprintf("%s:%d", h.Addr, lab.ClientPort)] = c.Cert.SerialNumber.Text(16)
			want[fmt.Sprintf("%s:%d", h.Addr, lab.PeerPort)] = p.Cert.SerialNumber.Text(16)
		}
		cfg := config(t, st, withSources(dir))
		needles := keyNeedles(t, dir)

		p, code := planAsJSON(t, cfg)
		if code != 2 || len(p.Refusals) != 0 {
			t.Fatalf("exit %d, refusals %+v", code, p.Refusals)
		}
		for _, s := range p.Steps {
			if s.Action != "upload-file" {
				t.Fatalf("steps %v: a leaf rotation needs uploads only, no %s", actions(p), s.Action)
			}
		}
		if len(p.Steps) != 2*len(members) {
			t.Fatalf("steps %v, want one client and one peer upload per member", actions(p))
		}
		planPath := filepath.Join(t.TempDir(), "rotate.plan")
		jsonOut, _, _ := cli(t, "plan", "--json", "--out", planPath, cfg)
		mdOut, _, _ := cli(t, "plan", "--markdown", cfg)
		planBytes, err := os.ReadFile(planPath)
		if err != nil {
			t.Fatal(err)
		}
		for what, out := range map[string][]byte{"plan file": planBytes, "plan JSON": []byte(jsonOut), "plan Markdown": []byte(mdOut)} {
			if !bytes.Contains(out, []byte("/etc/etcd/pki/"+members[0].Name+"-key.pem")) {
				t.Fatalf("%s does not name the key path, so the scan would pass vacuously", what)
			}
			assertNoKeys(t, what, out, needles)
		}

		w := startWriter(t, st)
		w.waitAcked(t, 50)
		hist := recordHistory(t, st)
		audit := filepath.Join(t.TempDir(), "audit.jsonl")
		if _, _, code := cli(t, applyArgs(t, "--audit-log", audit, planPath)...); code != 0 {
			t.Fatalf("apply: exit %d", code)
		}
		// Keep writing across new connections for a moment after the swap.
		n := func() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.acked) }
		after := n() + 50
		labtest.Eventually(t, 10*time.Second, func() error {
			if n() < after {
				return fmt.Errorf("writer at %d, want %d", n(), after)
			}
			return nil
		})
		w.verify(t)
		hist.Verify(t)
		if f := w.failed.Load(); f != 0 {
			t.Fatalf("%d writes failed during the rotation, want 0", f)
		}
		auditBytes, err := os.ReadFile(audit)
		if err != nil {
			t.Fatal(err)
		}
		assertNoKeys(t, "audit log", auditBytes, needles)

		// Every member serves its new certificates without a restart.
		for addr, serial := range want {
			labtest.Eventually(t, 10*time.Second, func() error {
				got, err := servedSerial(t, st, addr)
				if err != nil {
					return err
				}
				if got != serial {
					return fmt.Errorf("%s serves serial %s, want %s", addr, got, serial)
				}
				return nil
			})
		}
		if p, code := planAsJSON(t, cfg); code != 0 || len(p.Steps) != 0 {
			t.Fatalf("after the rotation: exit %d, steps %v; want no changes", code, actions(p))
		}
	})
}

// leaderWatch samples, every 100ms, whether any member reports a leader,
// and records the longest stretch in which none did.
type leaderWatch struct {
	mu      sync.Mutex
	longest time.Duration
	samples int
	loop
}

func watchLeader(t *testing.T, cli *clientv3.Client, eps []string) *leaderWatch {
	lw := &leaderWatch{loop: newLoop()}
	go func() {
		defer close(lw.done)
		var since time.Time // start of the current leaderless stretch
		for {
			select {
			case <-lw.stop:
				return
			case <-time.After(100 * time.Millisecond): // sampling period
			}
			led := false
			for _, ep := range eps {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				s, err := cli.Status(ctx, ep)
				cancel()
				if err == nil && s.Leader != 0 {
					led = true
					break
				}
			}
			lw.mu.Lock()
			lw.samples++
			switch {
			case led:
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			default:
				lw.longest = max(lw.longest, time.Since(since))
			}
			lw.mu.Unlock()
		}
	}()
	t.Cleanup(lw.halt)
	return lw
}

// TestTLSCARotationE2E rotates the CA in three reviewed phases under a
// continuous mTLS writer: 1. the bundle with both CAs, rolling restart;
// 2. every leaf reissued under the new CA, no restart; 3. the bundle
// without the old CA, rolling restart.
func TestTLSCARotationE2E(t *testing.T) {
	st, oldCA := upTLSLab(t, lab.Options{Members: 3})
	newCA, err := pki.NewCA("etcdform lab CA 2")
	if err != nil {
		t.Fatal(err)
	}
	dir := tlsSources(t, st)
	cfg := config(t, st, withSources(dir))
	members := st.Members()

	// The writer trusts both CAs (a client's own bundle) and presents a
	// client certificate that can be swapped once members trust the new CA.
	pool := x509.NewCertPool()
	pool.AddCert(oldCA.Cert)
	pool.AddCert(newCA.Cert)
	var clientCert atomic.Pointer[tls.Certificate]
	first, err := tls.LoadX509KeyPair(st.PKIPath("client.pem"), st.PKIPath("client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	clientCert.Store(&first)
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return clientCert.Load(), nil }}
	var eps []string
	for _, h := range members {
		eps = append(eps, h.ClientURL())
	}
	ec, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 3 * time.Second, TLS: tlsCfg, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ec.Close() })
	w := startWriterOn(t, ec)
	hist := recordHistoryOn(t, eps, tlsCfg) // the writer's TLS: both CAs, the swappable client certificate
	lw := watchLeader(t, ec, eps)

	phase := func(name, wantWarning string, wantRestarts int) {
		t.Helper()
		p, code := planAsJSON(t, cfg)
		if code != 2 || len(p.Refusals) != 0 {
			t.Fatalf("%s: exit %d, refusals %+v", name, code, p.Refusals)
		}
		if warning(p, wantWarning) == nil {
			t.Fatalf("%s: the plan does not show %q: %+v", name, wantWarning, p.Warnings)
		}
		restarts := 0
		for _, s := range p.Steps {
			if s.Action == "restart" {
				restarts++
			}
		}
		if restarts != wantRestarts {
			t.Fatalf("%s: steps %v, want %d restarts", name, actions(p), wantRestarts)
		}
		if _, _, code := cli(t, applyArgs(t, cfg)...); code != 0 {
			t.Fatalf("%s: apply exit %d", name, code)
		}
		if p, code := planAsJSON(t, cfg); code != 0 {
			t.Fatalf("%s: not converged after apply: exit %d, steps %v, refusals %+v", name, code, actions(p), p.Refusals)
		}
	}

	// Out of order first: new leaves before the bundle are refused.
	bad := tlsSources(t, st)
	for _, h := range members {
		issueMember(t, bad, newCA, h, "-peer", nil)
	}
	if p, code := planAsJSON(t, config(t, st, withSources(bad))); code != 1 || refusal(p, "Certificate rotation ahead of CA distribution") == nil {
		t.Fatalf("new leaves before the bundle: exit %d, refusals %+v; want a refusal", code, p.Refusals)
	}

	writeSource(t, dir, "ca.pem", append(append([]byte{}, oldCA.CertPEM...), newCA.CertPEM...))
	phase("phase 1", "CA rotation phase 1 of 3", len(members))

	// Every member trusts the new CA now: clients move to new certificates.
	tool, err := newCA.Issue(pki.Request{CommonName: "etcdform", Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	writeSource(t, dir, "client.pem", tool.CertPEM)
	writeSource(t, dir, "client-key.pem", tool.KeyPEM)
	next, err := tls.X509KeyPair(tool.CertPEM, tool.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	clientCert.Store(&next)

	for _, h := range members {
		issueMember(t, dir, newCA, h, "", nil)
		issueMember(t, dir, newCA, h, "-peer", nil)
	}
	phase("phase 2", "CA rotation phase 2 of 3", 0)

	writeSource(t, dir, "ca.pem", newCA.CertPEM)
	// Dropping the old CA while the tool still presents a certificate it
	// issued would lock the tool out: refused.
	oldTool := config(t, st, func(s string) string {
		s = withSources(dir)(s)
		s = strings.Replace(s, `"`+dir+`/client.pem"`, fmt.Sprintf("%q", st.PKIPath("client.pem")), 1)
		return strings.Replace(s, `"`+dir+`/client-key.pem"`, fmt.Sprintf("%q", st.PKIPath("client-key.pem")), 1)
	})
	if p, code := planAsJSON(t, oldTool); code != 1 || refusal(p, "Tool certificate not trusted by member") == nil {
		t.Fatalf("phase 3 with the tool on an old-CA certificate: exit %d, refusals %+v; want a refusal", code, p.Refusals)
	}
	phase("phase 3", "CA rotation phase 3 of 3", len(members))

	// The old CA is gone: a client certificate it issued is refused.
	refused := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{first}, MinVersion: tls.VersionTLS12}
	if lab.HealthyTLS(t.Context(), eps[0], refused) {
		t.Fatal("a client certificate of the dropped CA is still accepted")
	}

	lw.halt()
	w.verify(t)
	hist.Verify(t)
	t.Logf("leader watch: %d samples, longest stretch without a leader %s; %d writes failed and were retried", lw.samples, lw.longest, w.failed.Load())
	if lw.longest > time.Second {
		t.Fatalf("the cluster had no leader for %s (more than an election timeout)", lw.longest)
	}
}

// TestTLSAddMemberE2E adds a member to a TLS lab: its certificates are
// uploaded from their sources before it is added as a learner.
func TestTLSAddMemberE2E(t *testing.T) {
	st, ca := upTLSLab(t, lab.Options{Members: 3, Spare: 1})
	spare, err := st.Host("spare-1")
	if err != nil {
		t.Fatal(err)
	}
	dir := tlsSources(t, st)
	newMember := *spare
	newMember.Name = "etcd-4" // the name withMembers gives it
	issueMember(t, dir, ca, newMember, "", nil)
	issueMember(t, dir, ca, newMember, "-peer", nil)
	cfg := config(t, st, func(s string) string {
		return withMembers(*spare)(withSources(dir)(s))
	})
	cfg4 := filepath.Join(cfg, "main.hcl")
	data, err := os.ReadFile(cfg4)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg4, bytes.Replace(data, []byte("etcd_version"), []byte("allow_even   = true\n  etcd_version"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	p, code := planAsJSON(t, cfg)
	if code != 2 || len(p.Refusals) != 0 {
		t.Fatalf("exit %d, refusals %+v", code, p.Refusals)
	}
	got := strings.Join(actions(p), "; ")
	if want := "snapshot; upload-file etcd-4; upload-file etcd-4; upload-file etcd-4; add-learner etcd-4; promote etcd-4"; got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	if _, _, code := cli(t, applyArgs(t, cfg)...); code != 0 {
		t.Fatalf("apply exit %d", code)
	}
	if p, code := planAsJSON(t, cfg); code != 0 {
		t.Fatalf("after the add: exit %d, steps %v, refusals %+v", code, actions(p), p.Refusals)
	}
	fi, err := os.Stat(spare.HostPKIPath("etcd-4-peer-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("uploaded key has mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestTLSRebuiltMemberE2E: on a TLS lab a follower's host is rebuilt: its
// etcd killed, its data dir and /etc/etcd emptied, certificates included.
// The plan removes the old member, uploads the member's certificates and
// keys from their sources, adds it back as a learner under the same name
// and promotes it; apply exits 0 and a second plan is empty.
func TestTLSRebuiltMemberE2E(t *testing.T) {
	st, _ := upTLSLab(t, lab.Options{Members: 3})
	victim := follower(t, st)
	dir := tlsSources(t, st)
	cfg := config(t, st, withSources(dir))
	wipe(t, st, victim)
	if _, err := os.Stat(victim.HostPKIPath("")); !os.IsNotExist(err) {
		t.Fatalf("%s still has its pki dir after the wipe: %v", victim.Name, err)
	}
	p, code := planAsJSON(t, cfg)
	if code != 2 || len(p.Refusals) != 0 {
		t.Fatalf("plan of the rebuilt %s: exit %d, refusals %+v", victim.Name, code, p.Refusals)
	}
	got := strings.Join(actions(p), "; ")
	uploads := strings.Count(got, "upload-file "+victim.Name)
	want := "snapshot; remove-member " + victim.Name + "; " + strings.Repeat("upload-file "+victim.Name+"; ", uploads) +
		"add-learner " + victim.Name + "; promote " + victim.Name
	if uploads == 0 || got != want {
		t.Fatalf("steps %q, want the removal, the uploads of its files, then the addition: %q", got, want)
	}
	if _, _, code := cli(t, applyArgs(t, cfg)...); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	if p, code := planAsJSON(t, cfg); code != 0 {
		t.Fatalf("second plan: exit %d, steps %v, refusals %+v", code, actions(p), p.Refusals)
	}
	for _, m := range memberList(t, st) {
		if m.IsLearner {
			t.Errorf("member %s is still a learner", m.Name)
		}
	}
	fi, err := os.Stat(victim.HostPKIPath(victim.Name + "-peer-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("uploaded key has mode %v, want 0600", fi.Mode().Perm())
	}
}
