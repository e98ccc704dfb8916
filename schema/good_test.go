package schema

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

func TestLoadValid(t *testing.T) {
	full, _ := filepath.Abs("testdata/valid/full")
	// The default known_hosts is OpenSSH's, in the home directory; it need
	// not exist for the configuration to be valid (issue 13 #11).
	home := t.TempDir()
	t.Setenv("HOME", home)
	defaultKH := filepath.Join(home, ".ssh", "known_hosts")
	clientTLS := func(m string) *TLSEndpoint {
		return &TLSEndpoint{
			CA:             TLSFile{Path: "/etc/etcd/pki/ca.pem", Source: full + "/pki/ca.pem"},
			Cert:           TLSFile{Path: "/etc/etcd/pki/" + m + ".pem", Source: full + "/pki/" + m + ".pem"},
			Key:            TLSFile{Path: "/etc/etcd/pki/" + m + "-key.pem", Source: full + "/pki/" + m + "-key.pem"},
			ClientCertAuth: true,
		}
	}
	peerTLS := func(m string) *TLSEndpoint {
		return &TLSEndpoint{
			CA:   TLSFile{Path: "/etc/etcd/pki/ca.pem"},
			Cert: TLSFile{Path: "/etc/etcd/pki/" + m + "-peer.pem"},
			Key:  TLSFile{Path: "/etc/etcd/pki/" + m + "-peer-key.pem"},
		}
	}
	conn := Connection{User: "root", Port: 2222, Agent: true, KnownHostsFile: full + "/known_hosts", Sudo: true,
		Timeout: 30 * time.Second, Bastion: &Bastion{Host: "bastion.example.net", Port: 22, User: "ops"}}
	conn2 := conn
	conn2.User, conn2.Agent, conn2.PrivateKeyFile = "admin", false, full+"/id_placeholder"
	peer3 := peerTLS("etcd-3")
	peer3.Cert.Path = "/srv/pki/peer.pem"

	tests := map[string]struct {
		path string
		opts LoadOptions
		want []*Cluster
	}{
		"minimal gets etcd defaults": {
			path: "testdata/valid/minimal",
			want: []*Cluster{{
				Name: "min", FaultTolerance: -1,
				Connection: Connection{User: "root", Port: 22, Agent: true, KnownHostsFile: defaultKH, Timeout: 10 * time.Second},
				Service: Service{Manager: "systemd", Name: "etcd", Binary: "/usr/local/bin/etcd", ConfigFile: "/etc/etcd/etcd.conf.yml",
					DataDir: "/var/lib/etcd", User: "etcd", StopTimeout: 19 * time.Second},
				Storage:    Storage{QuotaBackendBytes: 2147483648, SnapshotCount: 10000, MaxRequestBytes: 1572864},
				Compaction: Compaction{Mode: "periodic", Retention: "0s"},
				Raft:       Raft{HeartbeatInterval: 100 * time.Millisecond, ElectionTimeout: time.Second},
				Logging:    Logging{Level: "info"},
				Members: []*Member{{Name: "etcd-1", Host: "10.0.0.1", PeerURL: "http://10.0.0.1:2380", ClientURL: "http://10.0.0.1:2379",
					Connection: Connection{User: "root", Port: 22, Agent: true, KnownHostsFile: defaultKH, Timeout: 10 * time.Second}}},
			}},
		},
		"full with variables, templates and overrides": {
			path: "testdata/valid/full",
			opts: LoadOptions{Vars: []string{"subnet=10.1.0.0/24"}, Getenv: func(k string) string {
				return map[string]string{"ETCDFORM_VAR_quota": "6GiB", "ETCDFORM_VAR_subnet": "192.168.0.0/24"}[k]
			}},
			want: []*Cluster{{
				Name: "prod", EtcdVersion: "3.6.16", FaultTolerance: 1,
				Connection: conn,
				Service: Service{Manager: "command", Name: "ETCD", Binary: "/usr/local/bin/etcd", ConfigFile: "/etc/etcd/etcd.conf.yml",
					DataDir: "/var/lib/etcd", User: "etcd", StartCommand: "sv up etcd", StopCommand: "sv down etcd", StatusCommand: "sv status etcd",
					StopTimeout: 20 * time.Second},
				Storage:         Storage{QuotaBackendBytes: 6 << 30, SnapshotCount: 5000, MaxRequestBytes: 1572864},
				Compaction:      Compaction{Mode: "revision", Retention: "1000"},
				Raft:            Raft{HeartbeatInterval: 50 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond},
				Metrics:         &Metrics{Level: "extensive"},
				Logging:         Logging{Level: "warn", Outputs: []string{"stderr", "/var/log/etcd/6GiB.log"}},
				CorruptionCheck: &CorruptionCheck{Initial: true, CompactHash: true, CompactHashPeriod: 5 * time.Minute},
				TLS:             &TLS{Client: &TLSEndpoint{ClientCertAuth: true}, Peer: &TLSEndpoint{ClientCertAuth: true}, MinRemaining: 720 * time.Hour},
				Backup: &Backup{Schedule: "0 */6 * * *", On: []string{"etcd-1"}, Destination: "s3://backups/etcd", KeepLast: 28,
					MaxAge: 720 * time.Hour, Recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
					S3: &S3Options{Endpoint: "https://minio.example.net", Region: "eu-west-1", PathStyle: true}},
				Members: []*Member{
					{Name: "etcd-1", Host: "10.1.0.11", PeerURL: "https://10.1.0.11:2380", ClientURL: "https://10.1.0.11:2379", MetricsURLs: []string{"http://10.1.0.11:2381"}, Connection: conn,
						TLS: &TLS{Client: clientTLS("etcd-1"), Peer: peerTLS("etcd-1"), MinRemaining: 720 * time.Hour}},
					{Name: "etcd-2", Host: "10.1.0.12", PeerURL: "https://10.1.0.12:2380", ClientURL: "https://10.1.0.12:2379", MetricsURLs: []string{"http://10.1.0.12:2381"}, Connection: conn2,
						TLS: &TLS{Client: clientTLS("etcd-2"), Peer: peerTLS("etcd-2"), MinRemaining: 720 * time.Hour}},
					{Name: "etcd-3", Host: "10.1.0.13", PeerURL: "https://10.1.0.13:2380", ClientURL: "https://10.1.0.13:2379", MetricsURLs: []string{"http://10.1.0.13:2381"}, Connection: conn,
						TLS: &TLS{Client: clientTLS("etcd-3"), Peer: peer3, MinRemaining: 720 * time.Hour}},
				},
			}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := Load(tc.path, tc.opts)
			// The safe-default findings are TestRisks's.
			if diags = withoutRisks(diags); len(diags) > 0 {
				t.Fatalf("unexpected diagnostics:\n%s", renderDiags(t, tc.path, diags))
			}
			if diff := cmp.Diff(tc.want, cfg.Clusters, cmpopts.IgnoreTypes(hcl.Range{}), cmpopts.IgnoreFields(Cluster{}, "Uses", "Risks")); diff != "" {
				t.Errorf("clusters (-want +got)\n%s", diff)
			}
			if len(cfg.Hash) != 64 {
				t.Errorf("Hash = %q, want sha256 hex", cfg.Hash)
			}
		})
	}
}

func TestLoadSingleFile(t *testing.T) {
	cfg, diags := Load("testdata/valid/minimal/main.hcl", LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want, _ := filepath.Abs("testdata/valid/minimal")
	if cfg.Dir != want || len(cfg.Clusters) != 1 {
		t.Errorf("Dir = %q, clusters = %d; want %q, 1", cfg.Dir, len(cfg.Clusters), want)
	}
}

func TestHashChangesWithContent(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/valid/minimal/main.hcl")
	a, _ := LoadFiles(dir, map[string][]byte{"main.hcl": src}, LoadOptions{})
	b, _ := LoadFiles(dir, map[string][]byte{"main.hcl": append(src, '\n')}, LoadOptions{})
	if a.Hash == b.Hash {
		t.Error("hash did not change with the file contents")
	}
}

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.hcl", `variable "v" {
  default = "default"
}
cluster "c" {
  connection {
    agent = true
    user  = var.v
  }
  member "m" {
    host = "h"
  }
}
`)
	write("known_hosts", "")
	write("x.vars", `v = "file"`+"\n")
	env := func(k string) string {
		if k == "ETCDFORM_VAR_v" {
			return "env"
		}
		return ""
	}
	tests := map[string]struct {
		opts     LoadOptions
		autoVars bool
		want     string
	}{
		"default":              {want: "default"},
		"env over default":     {opts: LoadOptions{Getenv: env}, want: "env"},
		"auto file over env":   {opts: LoadOptions{Getenv: env}, autoVars: true, want: "auto"},
		"var-file over auto":   {opts: LoadOptions{Getenv: env, VarFiles: []string{filepath.Join(dir, "x.vars")}}, autoVars: true, want: "file"},
		"-var over everything": {opts: LoadOptions{Getenv: env, VarFiles: []string{filepath.Join(dir, "x.vars")}, Vars: []string{"v=cli1", "v=cli2"}}, autoVars: true, want: "cli2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, AutoVarFile))
			if tc.autoVars {
				write(AutoVarFile, `v = "auto"`+"\n")
			}
			cfg, diags := Load(dir, tc.opts)
			if diags.HasErrors() {
				t.Fatal(renderDiags(t, dir, diags))
			}
			if got := cfg.Clusters[0].Connection.User; got != tc.want {
				t.Errorf("var.v = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnits(t *testing.T) {
	sizes := map[string]int64{"8GiB": 8 << 30, "1.5MiB": 1572864, "1024": 1024, "1KB": 1000, "2 GiB": 2 << 30}
	for in, want := range sizes {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "1.5B", "8gib", "-1", "1e3"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	durs := map[string]time.Duration{"100ms": 100 * time.Millisecond, "1s": time.Second, "30d": 720 * time.Hour, "720h": 720 * time.Hour, "1h30m": 90 * time.Minute, "1.5s": 1500 * time.Millisecond}
	for in, want := range durs {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "1y", "ms", "-1s"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}
