package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/etcdform/etcdform/schema"
)

// TestModelIsLabHCL checks that the lab's model is lab.hcl decoded by the
// schema: the schema's defaults, the hosts' service manager, the lab's
// files resolved against its directory.
func TestModelIsLabHCL(t *testing.T) {
	tests := map[string]struct {
		tls  bool
		init string
	}{
		"runit":       {init: InitRunit},
		"systemd tls": {tls: true, init: InitSystemd},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &State{Dir: t.TempDir(), EtcdVersion: "3.6.16", TLS: tc.tls, Init: tc.init}
			for i := range 3 {
				name := fmt.Sprintf("etcd-%d", i+1)
				s.Hosts = append(s.Hosts, Host{Name: name, Member: true, Addr: fmt.Sprintf("10.1.1.%d", 11+i), TLS: tc.tls, Root: filepath.Join(s.Dir, "hosts", name)})
			}
			for _, f := range []string{s.KeyFile(), s.KnownHostsFile()} {
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.tls {
				if err := s.writePKI(); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(s.HCLFile(), []byte(s.hcl()), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := s.model()
			if err != nil {
				t.Fatal(err)
			}
			want := schema.Service{Manager: tc.init, Name: ServiceName, Binary: EtcdBinary, ConfigFile: EtcdConfigFile, DataDir: EtcdDataDir, User: "root"}
			got := c.Service
			got.StopTimeout = 0 // derived by the schema from the raft timings
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("service (-want +got):\n%s", d)
			}
			if c.Storage.QuotaBackendBytes != schema.DefaultQuotaBackendBytes || c.Raft.ElectionTimeout != schema.DefaultElection {
				t.Errorf("storage %+v, raft %+v: want the schema's defaults", c.Storage, c.Raft)
			}
			if c.Connection.PrivateKeyFile != s.KeyFile() || c.Connection.KnownHostsFile != s.KnownHostsFile() || c.Connection.Port != SSHPort {
				t.Errorf("connection %+v: want the lab's key and known_hosts on port %d", c.Connection, SSHPort)
			}
			if len(c.Members) != 3 || c.Members[1].PeerURL != s.Hosts[1].PeerURL() {
				t.Fatalf("members %v: want the lab's three", c.Members)
			}
			if tc.tls && (c.Members[1].TLS == nil || c.Members[1].TLS.Client.Cert.Source != s.PKIPath("etcd-2.pem")) {
				t.Errorf("member TLS %+v: want etcd-2's certificate from the lab's pki/", c.Members[1].TLS)
			}
		})
	}
}

// TestLabHCLFailsStrict: lab.hcl as `lab up` writes it keeps etcd's risky
// defaults and accepts none, so `validate --strict` refuses it naming each
// risk (issue 18 #3, acceptance "Strict mode"): a plain lab is plaintext on
// both sides with compaction off, the default quota and no auth; a --tls
// lab keeps the quota, compaction and auth risks.
func TestLabHCLFailsStrict(t *testing.T) {
	tests := map[string]struct {
		tls  bool
		want []schema.Risk
	}{
		"plain": {want: []schema.Risk{schema.RiskDefaultQuota, schema.RiskCompactionOff, schema.RiskPlaintextClient, schema.RiskPlaintextPeer, schema.RiskAuthOff}},
		"tls":   {tls: true, want: []schema.Risk{schema.RiskDefaultQuota, schema.RiskCompactionOff, schema.RiskAuthOff}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &State{Dir: t.TempDir(), EtcdVersion: "3.6.16", TLS: tc.tls, Init: InitRunit}
			for i := range 3 {
				name := fmt.Sprintf("etcd-%d", i+1)
				s.Hosts = append(s.Hosts, Host{Name: name, Member: true, Addr: fmt.Sprintf("10.1.1.%d", 11+i), TLS: tc.tls, Root: filepath.Join(s.Dir, "hosts", name)})
			}
			for _, f := range []string{s.KeyFile(), s.KnownHostsFile()} {
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.tls {
				if err := s.writePKI(); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(s.HCLFile(), []byte(s.hcl()), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := s.model(); err != nil { // the lab itself loads it without --strict
				t.Fatal(err)
			}
			_, diags := schema.Load(s.HCLFile(), schema.LoadOptions{Strict: true})
			var got []schema.Risk
			for _, d := range diags {
				r, ok := schema.RiskOf(d)
				if !ok || d.Severity != hcl.DiagError || d.Subject == nil || d.Subject.Filename != s.HCLFile() {
					t.Errorf("diagnostic %q (%v at %v): want only risk errors in lab.hcl", d.Summary, d.Severity, d.Subject)
					continue
				}
				if !strings.Contains(d.Detail, string(r.Risk)) {
					t.Errorf("%q does not name %s", d.Detail, r.Risk)
				}
				got = append(got, r.Risk)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("risks (-want +got)\n%s", diff)
			}
		})
	}
}
