package command

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// hostileBase is a valid configuration. Each hostile case replaces one
// "@NAME@" marker with an attribute (or a label) holding a hostile value;
// unreplaced markers become empty lines. Hosts are loopback with a closed
// SSH port: a case that wrongly got past validation would reach nothing
// outside this machine (and Env.Observe fails the test before that).
const hostileBase = `cluster "c1"@CLUSTER@ {
  @CLUSTERATTR@
  connection {
    user             = "root"
    port             = 1
    agent            = true
    known_hosts_file = "known_hosts"
    @CONN@
  }
  service {
    manager = "runit"
    @SERVICE@
  }
  @BLOCK@
  member "etcd-1"@LABEL@ {
    host = "127.0.0.1"
    @MEMBER@
  }
}
`

// hostileConfig renders hostileBase with the given replacements.
func hostileConfig(repl map[string]string) string {
	out := hostileBase
	for k, v := range repl {
		out = strings.ReplaceAll(out, "@"+k+"@", v)
	}
	return regexp.MustCompile(`@[A-Z]+@`).ReplaceAllString(out, "")
}

// backupBlock is a backup block with one attribute replaced by extra.
func backupBlock(dest, extra string) string {
	return fmt.Sprintf(`backup {
    schedule          = "@daily"
    on                = ["etcd-1"]
    destination       = %s
    allow_unencrypted = true
    %s
  }`, dest, extra)
}

// at matches a diagnostic's source position in file.
func at(file string) string { return regexp.QuoteMeta(file) + `(:| line )\d+` }

// hostileCase is one hostile input. Exactly one of config (a main.hcl),
// files (a whole directory) or planFile is the input; args are the command
// line, in which {dir} is the configuration directory and {plan} the plan
// file. want are regular expressions the diagnostics must match (what to fix and
// where); every case must exit non-zero, must not panic and must write
// nothing.
type hostileCase struct {
	config   string
	files    map[string]string
	planFile func(t *testing.T) []byte
	args     []string
	want     []string
}

func hostileCases() map[string]hostileCase {
	plan := []string{"plan", "--out", "{dir}/out.plan", "{dir}"}
	validate := []string{"validate", "{dir}"}
	cfg := func(repl map[string]string) string { return hostileConfig(repl) }
	nl := `\n`
	cases := map[string]hostileCase{
		// The reported exploit: a cron line smuggled through destination.
		"cron injection via destination": {
			config: cfg(map[string]string{"BLOCK": backupBlock(`"file:///var/backups/x\n* * * * * root touch /tmp/pwned #"`, "")}),
			args:   plan, want: []string{at("main.hcl"), "destination"},
		},
		"cron injection via destination (validate)": {
			config: cfg(map[string]string{"BLOCK": backupBlock(`"file:///var/backups/x\n* * * * * root touch /tmp/pwned #"`, "")}),
			args:   validate, want: []string{at("main.hcl"), "destination"},
		},
		"carriage return in destination": {
			config: cfg(map[string]string{"BLOCK": backupBlock(`"file:///var/backups/x\r* * * * * root id"`, "")}),
			args:   plan, want: []string{at("main.hcl"), "destination"},
		},
		"s3 region newline": {
			config: cfg(map[string]string{"BLOCK": backupBlock(`"s3://bucket/prefix"`, `s3 {
      region = "us-east-1`+nl+`* * * * * root id"
    }`)}),
			args: plan, want: []string{at("main.hcl"), "region"},
		},
		"s3 endpoint newline": {
			config: cfg(map[string]string{"BLOCK": backupBlock(`"s3://bucket/prefix"`, `s3 {
      endpoint = "https://127.0.0.1:9000`+nl+`* * * * * root id"
    }`)}),
			args: plan, want: []string{at("main.hcl"), "endpoint"},
		},
		"schedule newline": {
			config: cfg(map[string]string{"BLOCK": `backup {
    schedule          = "@daily` + nl + `* * * * * root id #"
    on                = ["etcd-1"]
    destination       = "file:///var/backups/etcd"
    allow_unencrypted = true
  }`}),
			args: plan, want: []string{at("main.hcl"), "schedule"},
		},
		"schedule that never fires": {
			config: cfg(map[string]string{"BLOCK": `backup {
    schedule          = "0 0 30 2 *"
    on                = ["etcd-1"]
    destination       = "file:///var/backups/etcd"
    allow_unencrypted = true
  }`}),
			args: validate, want: []string{at("main.hcl"), "schedule"},
		},
		"recipient newline": {
			config: cfg(map[string]string{"BLOCK": `backup {
    schedule    = "@daily"
    on          = ["etcd-1"]
    destination = "file:///var/backups/etcd"
    encryption {
      recipient = "age1x` + nl + `* * * * * root id"
    }
  }`}),
			args: plan, want: []string{at("main.hcl"), "recipient"},
		},
		"member name newline": {
			config: strings.Replace(cfg(nil), `member "etcd-1"`, `member "etcd-1\nx"`, 1),
			args:   plan, want: []string{at("main.hcl"), "member"},
		},
		"member name with slash": {
			config: strings.Replace(cfg(nil), `member "etcd-1"`, `member "../../etc"`, 1),
			args:   plan, want: []string{at("main.hcl"), "member"},
		},
		"cluster name newline": {
			config: strings.Replace(cfg(nil), `cluster "c1"`, `cluster "c1\nx"`, 1),
			args:   plan, want: []string{at("main.hcl"), "cluster"},
		},
		"peer url newline": {
			config: cfg(map[string]string{"MEMBER": `peer_url = "http://127.0.0.1:2380` + nl + `x"`}),
			args:   plan, want: []string{at("main.hcl"), "peer_url"},
		},
		"client url with newline": {
			config: cfg(map[string]string{"MEMBER": `client_url = "http://127.0.0.1:2379` + nl + `enable-pprof: true"`}),
			args:   plan, want: []string{at("main.hcl"), "client_url"},
		},
		"service name semicolon": {
			config: cfg(map[string]string{"SERVICE": `name = "etcd; touch /tmp/pwned"`}),
			args:   plan, want: []string{at("main.hcl"), "name"},
		},
		"service name newline": {
			config: cfg(map[string]string{"SERVICE": `name = "etcd` + nl + `touch /tmp/pwned"`}),
			args:   plan, want: []string{at("main.hcl"), "name"},
		},
		"binary newline": {
			config: cfg(map[string]string{"SERVICE": `binary = "/usr/local/bin/etcd` + nl + `x"`}),
			args:   plan, want: []string{at("main.hcl"), "binary"},
		},
		"binary command substitution": {
			config: cfg(map[string]string{"SERVICE": `binary = "/usr/local/bin/$(touch /tmp/pwned)"`}),
			args:   plan, want: []string{at("main.hcl"), "binary"},
		},
		"config file newline": {
			config: cfg(map[string]string{"SERVICE": `config_file = "/etc/etcd/etcd.conf.yml` + nl + `x"`}),
			args:   plan, want: []string{at("main.hcl"), "config_file"},
		},
		"config file relative traversal": {
			config: cfg(map[string]string{"SERVICE": `config_file = "../../etc/passwd"`}),
			args:   plan, want: []string{at("main.hcl"), "config_file"},
		},
		"data dir newline": {
			config: cfg(map[string]string{"SERVICE": `data_dir = "/var/lib/etcd` + nl + `x"`}),
			args:   plan, want: []string{at("main.hcl"), "data_dir"},
		},
		"data dir relative": {
			config: cfg(map[string]string{"SERVICE": `data_dir = "var/lib/etcd"`}),
			args:   plan, want: []string{at("main.hcl"), "data_dir"},
		},
		"data dir dot-dot": {
			config: cfg(map[string]string{"SERVICE": `data_dir = "/var/lib/etcd/../../../etc"`}),
			args:   plan, want: []string{at("main.hcl"), "data_dir"},
		},
		"data dir NUL": {
			config: cfg(map[string]string{"SERVICE": `data_dir = "/var/lib/etcd\u0000x"`}),
			args:   plan, want: []string{at("main.hcl"), "data_dir"},
		},
		"data dir line separator": {
			config: cfg(map[string]string{"SERVICE": `data_dir = "/var/lib/etcd\u2028x"`}),
			args:   plan, want: []string{at("main.hcl"), "data_dir"},
		},
		"bastion host semicolon": {
			config: cfg(map[string]string{"CONN": `bastion {
      host = "127.0.0.1; touch /tmp/pwned"
    }`}),
			args: plan, want: []string{at("main.hcl"), "host"},
		},
		"tls cert path newline": {
			config: cfg(map[string]string{"BLOCK": `tls {
    client {
      ca_file   = "/etc/etcd/ca.pem"
      cert_file = "/etc/etcd/c.pem` + nl + `enable-pprof: true"
      key_file  = "/etc/etcd/c-key.pem"
    }
  }`}),
			args: plan, want: []string{at("main.hcl"), "cert_file"},
		},
		"etcd version traversal": {
			config: cfg(map[string]string{"CLUSTERATTR": `etcd_version = "../../../tmp"`}),
			args:   plan, want: []string{at("main.hcl"), "etcd_version"},
		},
		"deep nesting": {
			config: cfg(map[string]string{"CLUSTERATTR": "fault_tolerance = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000)}),
			args:   validate, want: []string{at("main.hcl"), "nest"},
		},
		"deep nesting of lists": {
			config: cfg(map[string]string{"CLUSTERATTR": "fault_tolerance = " + strings.Repeat("[", 50000) + strings.Repeat("]", 50000)}),
			args:   validate, want: []string{at("main.hcl"), "nest"},
		},
		"10 MB of locals with one error at the end": {
			files: map[string]string{"main.hcl": cfg(nil), "locals.hcl": hugeLocals(10 << 20)},
			args:  validate, want: []string{at("locals.hcl"), "last"},
		},
		"not UTF-8": {
			config: cfg(map[string]string{"SERVICE": "data_dir = \"/var/lib/\xff\xfe\""}),
			args:   validate, want: []string{at("main.hcl")},
		},
		"var with newline into data dir": {
			files: map[string]string{"main.hcl": cfg(map[string]string{"SERVICE": `data_dir = var.dir`}) + `
variable "dir" {
  default = "/var/lib/etcd"
}
`},
			args: []string{"plan", "--out", "{dir}/out.plan", "--var", "dir=/var/lib/etcd\nx", "{dir}"},
			want: []string{"data_dir"},
		},

		// Plan files.
		"plan file empty":          {planFile: func(*testing.T) []byte { return nil }, args: []string{"show", "{plan}"}, want: []string{"{plan}"}},
		"plan file truncated":      {planFile: truncatedPlan, args: []string{"show", "{plan}"}, want: []string{"{plan}"}},
		"plan file bit-flipped":    {planFile: bitFlippedPlan, args: []string{"show", "{plan}"}, want: []string{"{plan}"}},
		"plan file future version": {planFile: futurePlan, args: []string{"show", "{plan}"}, want: []string{"{plan}", "version"}},
		"apply empty plan file": {planFile: func(*testing.T) []byte { return nil },
			args: []string{"apply", "--auto-approve", "{plan}"}, want: []string{"{plan}"}},
		"apply truncated plan file": {planFile: truncatedPlan,
			args: []string{"apply", "--auto-approve", "{plan}"}, want: []string{"{plan}"}},
		"apply bit-flipped plan file": {planFile: bitFlippedPlan,
			args: []string{"apply", "--auto-approve", "{plan}"}, want: []string{"{plan}"}},
		"apply future-version plan file": {planFile: futurePlan,
			args: []string{"apply", "--auto-approve", "{plan}"}, want: []string{"{plan}", "version"}},
		"apply without approval on a broken plan file": {planFile: truncatedPlan,
			args: []string{"apply", "{plan}"}, want: []string{"{plan}"}},

		// Flags.
		"plan unknown flag":      {config: cfg(nil), args: []string{"plan", "--frobnicate", "{dir}"}, want: []string{"-frobnicate"}},
		"apply unknown flag":     {config: cfg(nil), args: []string{"apply", "--yes", "{dir}"}, want: []string{"-yes"}},
		"show unknown flag":      {planFile: truncatedPlan, args: []string{"show", "--yaml", "{plan}"}, want: []string{"-yaml"}},
		"validate unknown flag":  {config: cfg(nil), args: []string{"validate", "--stritc", "{dir}"}, want: []string{"-stritc"}},
		"fmt unknown flag":       {config: cfg(nil), args: []string{"fmt", "--diff", "{dir}"}, want: []string{"-diff"}},
		"backup unknown flag":    {config: cfg(nil), args: []string{"backup", "run", "--now", "{dir}"}, want: []string{"-now"}},
		"lab up unknown flag":    {args: []string{"lab", "up", "--dir", "{dir}/lab", "--nodes", "3"}, want: []string{"-nodes"}},
		"plan timeout zero":      {config: cfg(nil), args: []string{"plan", "--timeout", "0", "{dir}"}, want: []string{"timeout"}},
		"plan timeout negative":  {config: cfg(nil), args: []string{"plan", "--timeout", "-5s", "{dir}"}, want: []string{"timeout"}},
		"plan var without value": {config: cfg(nil), args: []string{"plan", "--var", "novalue", "{dir}"}, want: []string{"novalue"}},
		"plan var-file missing":  {config: cfg(nil), args: []string{"plan", "--var-file", "{dir}/nope.vars", "{dir}"}, want: []string{"nope.vars"}},
		"plan config dir missing": {args: []string{"plan", "--out", "{dir}/out.plan", "{dir}/nonexistent"},
			want: []string{"nonexistent"}},
		"lab up etcd version traversal": {args: []string{"lab", "up", "--dir", "{dir}/lab", "--etcd-version", "../../../tmp"},
			want: []string{"etcd-version"}},
		"lab up zero members": {args: []string{"lab", "up", "--dir", "{dir}/lab", "--members", "0"},
			want: []string{"members"}},
		"lab up negative members": {args: []string{"lab", "up", "--dir", "{dir}/lab", "--members", "-2"},
			want: []string{"members"}},
	}

	// Cases whose config differs from the base only in the member host or
	// the SSH user, written out in full for readability.
	host := func(h string) string {
		return strings.Replace(hostileConfig(nil), `host = "127.0.0.1"`, `host = `+h, 1)
	}
	cases["member host newline"] = hostileCase{config: host(`"127.0.0.1` + nl + `x"`), args: plan, want: []string{at("main.hcl"), "host"}}
	cases["member host semicolon"] = hostileCase{config: host(`"127.0.0.1;touch /tmp/pwned"`), args: plan, want: []string{at("main.hcl"), "host"}}
	cases["member host empty"] = hostileCase{config: host(`""`), args: plan, want: []string{at("main.hcl"), "host"}}
	cases["member host command subst"] = hostileCase{config: host(`"$(touch /tmp/pwned)"`), args: plan, want: []string{at("main.hcl"), "host"}}
	cases["ipv6 host double brackets"] = hostileCase{config: host(`"[[fd00::2]]"`), args: plan, want: []string{at("main.hcl"), "host"}}
	cases["ssh user newline"] = hostileCase{
		config: strings.Replace(hostileConfig(nil), `user             = "root"`, `user = "root`+nl+`x"`, 1),
		args:   plan, want: []string{at("main.hcl"), "user"},
	}
	return cases
}

// hugeLocals is a file of about size bytes of locals in a chain, whose last
// local is an error (an unknown function).
func hugeLocals(size int) string {
	var b strings.Builder
	b.WriteString("locals {\n  l0 = \"x\"\n")
	for i := 1; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  l%d = \"%s-${local.l%d == \"\" ? \"a\" : \"b\"}\"\n", i, strings.Repeat("p", 120), i-1)
	}
	b.WriteString("  last = nosuchfunction(local.l0)\n}\n")
	return b.String()
}

func samplePlan(t *testing.T) []byte {
	t.Helper()
	p := &plan.Plan{
		Meta:     plan.Meta{ToolVersion: "test", Time: time.Unix(1700000000, 0).UTC(), ConfigHash: "abc", ConfigDir: "/nonexistent"},
		Clusters: []string{"c1"},
		Steps: []plan.Step{{Action: plan.WriteConfig, Cluster: "c1", Member: "etcd-1", MemberID: 1,
			Changes: []plan.Change{{Attr: "quota-backend-bytes", Before: "1", After: "2"}}, Config: []byte("name: etcd-1\n")}},
	}
	var buf bytes.Buffer
	if err := planfile.Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func truncatedPlan(t *testing.T) []byte { b := samplePlan(t); return b[:len(b)/2] }

func bitFlippedPlan(t *testing.T) []byte {
	b := samplePlan(t)
	i := bytes.Index(b, []byte("quota-backend-bytes"))
	if i < 0 {
		t.Fatal("sample plan has no quota-backend-bytes")
	}
	b[i] ^= 0x01
	return b
}

func futurePlan(t *testing.T) []byte {
	b := samplePlan(t)
	re := regexp.MustCompile(`"format_version":\s*\d+`)
	if !re.Match(b) {
		t.Fatalf("sample plan has no format_version: %.200s", b)
	}
	return re.ReplaceAll(b, []byte(`"format_version": 999`))
}

// treeDigest lists every path under dir with its type, mode and content
// hash, so a test can tell that a command wrote nothing.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", path, info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestHostileInputs feeds hostile configurations, plan files and flags to
// the commands in-process. Each must exit non-zero with a diagnostic that
// says what to fix and where, must not panic, must not observe (no network)
// and must write nothing.
func TestHostileInputs(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 40 {
		t.Fatalf("only %d hostile cases, want at least 40", len(cases))
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfgDir := filepath.Join(dir, "cfg")
			if err := os.Mkdir(cfgDir, 0o755); err != nil {
				t.Fatal(err)
			}
			files := tc.files
			if tc.config != "" {
				files = map[string]string{"main.hcl": tc.config}
			}
			for n, content := range files {
				if err := os.WriteFile(filepath.Join(cfgDir, n), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(cfgDir, "known_hosts"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			planPath := filepath.Join(dir, "hostile.plan")
			if tc.planFile != nil {
				if err := os.WriteFile(planPath, tc.planFile(t), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				a = strings.ReplaceAll(a, "{dir}", cfgDir)
				args[i] = strings.ReplaceAll(a, "{plan}", planPath)
			}
			before := treeDigest(t, dir)

			var out, errb bytes.Buffer
			env := &Env{
				Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("yes\n"),
				Getenv: func(string) string { return "" },
				Observe: func(context.Context, *schema.Config) *state.Observed {
					t.Errorf("hostile input reached observation (network)")
					return &state.Observed{}
				},
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			code := func() (code int) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				return RunEnv(ctx, env, args)
			}()
			stderr := errb.String()
			if code == 0 {
				t.Errorf("exit 0, want non-zero\nstdout: %s\nstderr: %s", out.String(), stderr)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "{plan}", regexp.QuoteMeta(planPath))
				if !regexp.MustCompile(w).MatchString(stderr) {
					t.Errorf("stderr does not name %q:\n%s", w, limit(stderr, 2000))
				}
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
				t.Errorf("stderr looks like a crash:\n%s", limit(stderr, 2000))
			}
			if after := treeDigest(t, dir); after != before {
				t.Errorf("the command wrote to its directory:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func limit(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
