package planfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

func TestRoundTrip(t *testing.T) {
	job := systemdJob(t, "c")
	job[0].Observed = []byte("[Unit]\nDescription=an older job\n")
	tests := map[string]*plan.Plan{
		"sample":    plantest.Sample(),
		"empty":     {},
		"converged": plan.Make(plantest.Config(plantest.Cluster(1, 2, 3)), plantest.Observed(plantest.Observe(plantest.Cluster(1, 2, 3), 1)), plan.Options{}),
		"targets": {Clusters: []string{"c"},
			Targets: []plan.ClusterTarget{{Name: "c", Endpoints: []string{"https://10.0.0.1:2379"}, CAFile: "/pki/ca.pem", CertFile: "/pki/tool.pem", KeyFile: "/pki/tool-key.pem", Backup: true}},
			Steps: []plan.Step{{Action: plan.Restart, Cluster: "c", Member: "m1", MemberID: 7, Target: &plan.Target{
				Host: plan.HostAddr{Host: "10.0.0.1", Port: 2222, User: "ops", PrivateKeyFile: "/keys/id", Agent: true, KnownHostsFile: "/keys/known_hosts", Sudo: true, Timeout: 10 * time.Second,
					Bastion: &plan.Bastion{Host: "jump", Port: 22, User: "j", PrivateKeyFile: "/keys/jump"}},
				Service:    plan.Service{Manager: "command", Name: "etcd", StartCommand: "start", StopCommand: "stop", StatusCommand: "status", RestartCommand: "restart", StopTimeout: 15 * time.Second},
				ConfigFile: "/etc/etcd/etcd.conf.yml", DataDir: "/var/lib/etcd", Binary: "/usr/local/bin/etcd", Version: "3.6.16"}}}},
		"maintenance only": {Meta: plan.Meta{ToolVersion: "0.1.0", Only: plan.OnlyMaintenance}, Clusters: []string{"c"},
			Warnings: []plan.Warning{{Cluster: "c", Summary: "Pending Steps Left Out by --only maintenance", Detail: "Left out by --only maintenance: 1 step of cluster c: restart m1."}}},
		"cluster selection": {Meta: plan.Meta{ToolVersion: "0.1.0", Selection: []string{"b", "a"}}, Clusters: []string{"a", "b"}},
		"recovery": {Meta: plan.Meta{ToolVersion: "0.1.0", Recover: true}, Clusters: []string{"c"},
			Fingerprint: state.Fingerprint{Clusters: []state.ClusterFingerprint{{Name: "c", ClusterID: 0xc1, Leaderless: "m3=500",
				Members: []state.MemberFingerprint{{Name: "m1", ID: 1, DataDir: "no WAL"}, {Name: "m3", ID: 3, DataDir: "member 3 of cluster c1"}}}}},
			Steps: []plan.Step{{Action: plan.RecoverSurvivor, Cluster: "c", Member: "m3", MemberID: 3, PeerURL: "http://m3:2380", Config: []byte("name: m3\n"), Voters: 1}}},
		"unstarted member": {Steps: []plan.Step{{Action: plan.RemoveMember, Cluster: "c", MemberID: 0xffffffffffffffff, HostDown: true, Tolerated: -1}}},
		"backup jobs": {Steps: []plan.Step{
			{Action: plan.InstallBackupJob, Cluster: "c", Member: "m1", MemberID: 7, Voters: 3, Tolerated: 1,
				Changes: []plan.Change{{Attr: "scheduler", Before: "cron", After: "systemd"}},
				Uploads: []plan.Upload{{Role: "etcdform-binary", Path: "/usr/local/bin/etcdform", Source: "/tmp/etcdform", SHA256: "ab", Mode: 0o755}},
				Job: &plan.JobInstall{Scheduler: "systemd", Remove: []string{"/etc/cron.d/etcdform-backup-c"},
					Write: job, Timer: "etcdform-backup-c.timer", Run: true}},
			{Action: plan.InstallBackupJob, Cluster: "c", Member: "m2", Voters: 3, Tolerated: 1,
				Changes: []plan.Change{{Attr: "job", Before: "installed", After: "(absent)"}},
				Job:     &plan.JobInstall{StopTimers: []string{"etcdform-backup-c.timer"}, Remove: []string{"/etc/systemd/system/etcdform-backup-c.service"}}},
		}},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, want); err != nil {
				t.Fatal(err)
			}
			got, err := Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSampleIsRich(t *testing.T) {
	// The round trip above is only as good as the sample: make sure it
	// holds every action and messages.
	p := plantest.Sample()
	seen := map[plan.Action]bool{}
	for _, s := range p.Steps {
		seen[s.Action] = true
	}
	for _, a := range []plan.Action{plan.Snapshot, plan.AddLearner, plan.Promote, plan.RemoveMember, plan.WriteConfig, plan.Restart, plan.StartMember} {
		if !seen[a] {
			t.Errorf("sample plan has no %s step", a)
		}
	}
	for _, st := range p.Steps {
		if st.Action != plan.Snapshot && st.Target == nil && !st.HostDown {
			t.Errorf("sample step %s %s has no target", st.Action, st.Member)
		}
	}
	if len(p.Targets) != 2 {
		t.Errorf("sample plan has %d cluster targets, want 2", len(p.Targets))
	}
	if len(p.Warnings) == 0 || len(p.Refusals) == 0 || len(p.Fingerprint.Clusters) != 2 {
		t.Errorf("sample plan lacks warnings, refusals or fingerprints: %d %d %d", len(p.Warnings), len(p.Refusals), len(p.Fingerprint.Clusters))
	}
}

func written(t *testing.T, p *plan.Plan) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadRefuses(t *testing.T) {
	good := written(t, plantest.Sample())
	tests := map[string]struct {
		edit func(string) string
		want error
	}{
		"a step's voters changed": {
			edit: func(s string) string { return strings.Replace(s, `\"voters\":3`, `\"voters\":4`, 1) },
			want: ErrCorrupted,
		},
		"an action changed": {
			edit: func(s string) string {
				return strings.Replace(s, `\"action\":\"restart\"`, `\"action\":\"promote\"`, 1)
			},
			want: ErrCorrupted,
		},
		"a field added": {
			edit: func(s string) string { return strings.Replace(s, `{\"action\"`, `{\"force\":true,\"action\"`, 1) },
			want: ErrCorrupted,
		},
		"truncated": {
			edit: func(s string) string { return s[:len(s)/2] },
			want: ErrCorrupted,
		},
		"checksum removed": {
			edit: func(s string) string { return strings.Replace(s, `"checksum": "sha256:`, `"checksum": "`, 1) },
			want: ErrCorrupted,
		},
		"another version": {
			edit: func(s string) string {
				return strings.Replace(s, fmt.Sprintf(`"format_version": %d`, FormatVersion), fmt.Sprintf(`"format_version": %d`, FormatVersion+1), 1)
			},
			want: ErrVersion,
		},
		"no version": {
			edit: func(s string) string {
				return strings.Replace(s, fmt.Sprintf(`"format_version": %d,`, FormatVersion), ``, 1)
			},
			want: ErrCorrupted,
		},
		"not JSON": {
			edit: func(string) string { return "# etcd config\nname: x\n" },
			want: ErrCorrupted,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// The plan payload is embedded as a JSON object; the edits
			// work on its re-encoded string form.
			s := string(good)
			edited := tc.edit(escapePayload(s))
			if edited == escapePayload(s) {
				t.Fatal("the edit changed nothing")
			}
			_, err := Read(strings.NewReader(unescapePayload(t, edited)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read error = %v, want %v", err, tc.want)
			}
			if tc.want == ErrCorrupted && !strings.Contains(err.Error(), "plan file is corrupted or was modified") {
				t.Errorf("error %q does not say the file is corrupted", err)
			}
		})
	}
}

// escapePayload turns the file into a form where the payload is one JSON
// string, so edits can target compact keys; unescapePayload undoes it.
func escapePayload(s string) string {
	var env map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &env); err != nil {
		return s
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, env["plan"])
	str, _ := json.Marshal(compact.String())
	env["plan"] = str
	out, _ := json.MarshalIndent(env, "", "  ")
	return string(out)
}

func unescapePayload(t *testing.T, s string) string {
	var env map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &env); err != nil {
		return s // already broken on purpose
	}
	var str string
	if err := json.Unmarshal(env["plan"], &str); err != nil {
		return s
	}
	env["plan"] = json.RawMessage(str)
	out, err := json.Marshal(env)
	if err != nil {
		return s
	}
	return string(out)
}

func TestReadRefusesEveryFlippedByte(t *testing.T) {
	good := written(t, plantest.Sample())
	p0, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := 0; i < len(good); i += 7 {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		p, err := Read(bytes.NewReader(b))
		if err != nil {
			continue
		}
		// A flip in insignificant whitespace may parse; it must then
		// mean exactly the same plan.
		if diff := cmp.Diff(p0, p); diff != "" {
			t.Fatalf("flipping byte %d (%q) changed the plan without an error:\n%s", i, good[i], diff)
		}
		accepted++
	}
	t.Logf("%d whitespace flips accepted", accepted)
}

func TestFileHelpers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	want := plantest.Sample()
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("ReadFile of a missing file succeeded")
	}
}

func TestWriteRefusesUnknownAction(t *testing.T) {
	err := Write(&bytes.Buffer{}, &plan.Plan{Steps: []plan.Step{{Action: 'Z'}}})
	if err == nil {
		t.Fatal("Write accepted an unknown action")
	}
}

func TestNoSecretsInPlanFile(t *testing.T) {
	dir := t.TempDir()
	// Real key files exist at the sources, so a planner that read them
	// would leak them.
	for _, n := range []string{"etcd-1-peer.key", "etcd-1-client.key", "member-client.key", "member-peer.key"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	live := plantest.WithTLS(plantest.Cluster(1, 2, 3), dir)
	want := plantest.WithTLS(plantest.Cluster(1, 2, 3, 4, 5), dir)
	want.Storage.SnapshotCount = 5000
	oc := plantest.Observe(live, 1)
	oc.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Reachable: true, DataDirEmpty: true}
	oc.Hosts["etcd-5"] = &state.Host{Member: "etcd-5", Reachable: true, DataDirEmpty: true}
	p := plan.Make(plantest.Config(want), plantest.Observed(oc), plan.Options{})
	if len(p.Steps) == 0 {
		t.Fatal("TLS plan is empty")
	}
	b := written(t, p)
	if bytes.Contains(b, []byte("PRIVATE KEY")) || bytes.Contains(b, []byte("MIIE")) {
		t.Errorf("plan file holds key material:\n%s", b)
	}
	if !bytes.Contains(b, []byte("/etc/etcd/pki/etcd-4-peer.key")) {
		t.Errorf("plan file does not name the key path (the test would pass vacuously)")
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, plantest.Sample()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format_version":1,"checksum":"","plan":{}}`))
	f.Add([]byte(`{"format_version":1,"plan":{"steps":[{"action":"x","member_id":"zz"}],"refusals":[{"step":9}]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever reads back must write and read back the same.
		var out bytes.Buffer
		if err := Write(&out, p); err != nil {
			t.Fatalf("a plan that was read cannot be written: %v", err)
		}
		again, err := Read(&out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("(-first +second):\n%s", diff)
		}
	})
}

// systemdJob renders the systemd units of a backup job of cluster.
func systemdJob(t *testing.T, cluster string) []plan.File {
	t.Helper()
	c := &schema.Cluster{Name: cluster, Backup: &schema.Backup{Schedule: "@daily", On: []string{"m1"}, Destination: "s3://b/p", Recipient: "age1x"}}
	fs, err := backupjob.Render(plan.BackupJobSpec(c, &schema.Member{Name: "m1", ClientURL: "http://10.0.0.1:2379"}, ""), backupjob.Systemd)
	if err != nil {
		t.Fatal(err)
	}
	var out []plan.File
	for _, f := range fs {
		out = append(out, plan.File{Path: f.Path, Content: f.Content})
	}
	return out
}

// A plan file whose backup job is not one this etcdform could have
// planned is refused before apply runs anything of it as root.
func TestReadRefusesBadJobs(t *testing.T) {
	units := systemdJob(t, "c")
	for name, j := range map[string]*plan.JobInstall{
		"unknown scheduler":      {Scheduler: "launchd", Write: units, Timer: "etcdform-backup-c.timer"},
		"another cluster's unit": {Scheduler: "systemd", Write: systemdJob(t, "d"), Timer: "etcdform-backup-c.timer"},
		"edited unit":            {Scheduler: "systemd", Write: []plan.File{units[0], {Path: units[1].Path, Content: []byte("[Timer]\nOnCalendar=minutely\n")}}, Timer: "etcdform-backup-c.timer"},
		"removes another file":   {Remove: []string{"/etc/passwd"}},
		"stops another timer":    {StopTimers: []string{"ssh.timer"}, Remove: []string{"/etc/cron.d/etcdform-backup-c"}},
		"runs without files":     {Remove: []string{"/etc/cron.d/etcdform-backup-c"}, Run: true},
	} {
		t.Run(name, func(t *testing.T) {
			p := &plan.Plan{Steps: []plan.Step{{Action: plan.InstallBackupJob, Cluster: "c", Member: "m1", Job: j}}}
			var buf bytes.Buffer
			if err := Write(&buf, p); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(&buf); err == nil || !strings.Contains(err.Error(), "backup job") {
				t.Fatalf("read: %v", err)
			}
		})
	}
}

// TestWriteFileRefusesNonRegular: a plan file replaces only a regular file
// or takes a new path; a fifo, a device, a directory or a symbolic link is
// refused and left as it was (issue 13 #4).
func TestWriteFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular.plan")
	if err := os.WriteFile(regular, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.plan")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path string
		kind string // "" when the write is allowed
	}{
		"new path":      {path: filepath.Join(dir, "new.plan")},
		"regular file":  {path: regular},
		"named pipe":    {path: fifo, kind: "a named pipe"},
		"symbolic link": {path: link, kind: "a symbolic link"},
		"directory":     {path: sub, kind: "a directory"},
		// Only checked, never written: CheckWritable is a Lstat.
		"device": {path: "/dev/null", kind: "a device"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckWritable(tt.path)
			var nr *NotRegularError
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("CheckWritable(%s) = %v, want nil", tt.path, err)
				}
				return
			}
			if !errors.As(err, &nr) || nr.Kind != tt.kind {
				t.Fatalf("CheckWritable(%s) = %v, want a NotRegularError for %s", tt.path, err, tt.kind)
			}
			if tt.path == "/dev/null" {
				return
			}
			before, _ := os.Lstat(tt.path)
			if err := WriteFile(tt.path, plantest.Sample()); !errors.As(err, &nr) {
				t.Fatalf("WriteFile(%s) = %v, want a NotRegularError", tt.path, err)
			}
			after, err := os.Lstat(tt.path)
			if err != nil || !os.SameFile(before, after) || after.Mode() != before.Mode() {
				t.Errorf("%s changed: before %v, after %v (%v)", tt.path, before.Mode(), after, err)
			}
		})
	}
	if data, _ := os.ReadFile(regular); string(data) != "old" {
		t.Errorf("the link's target was written: %q", data)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// TestOnlySelection: the --only selection a plan was reduced to is written
// in its meta; a selection this etcdform does not know is refused on write
// and, in a file whose checksum matches, on read.
func TestOnlySelection(t *testing.T) {
	p := plantest.Sample()
	p.Meta.Only = plan.OnlyMaintenance
	if b := written(t, p); !bytes.Contains(b, []byte(`"only": "maintenance"`)) {
		t.Errorf("the plan file does not record the selection:\n%s", b)
	}
	if b := written(t, plantest.Sample()); bytes.Contains(b, []byte(`"only"`)) {
		t.Errorf("a whole plan records a selection")
	}

	p.Meta.Only = "config"
	if err := Write(&bytes.Buffer{}, p); err == nil || !strings.Contains(err.Error(), `"config"`) {
		t.Errorf("Write with --only config: err = %v, want a refusal naming it", err)
	}
	data := sealedSample(t, func(f *filePlan) { f.Meta.Only = "config" })
	if _, err := Read(bytes.NewReader(data)); !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), `unknown selection --only "config"`) {
		t.Errorf("Read of --only config: err = %v, want ErrCorrupted naming the selection", err)
	}
}

// TestClusterSelection: a plan --cluster plan records its selection, and a
// file whose selection is not the set of clusters it covers is refused.
func TestClusterSelection(t *testing.T) {
	p := plantest.Sample()
	p.Meta.Selection = append([]string(nil), p.Clusters...)
	if b := written(t, p); !bytes.Contains(b, []byte(`"selection"`)) {
		t.Errorf("the plan file does not record the selection:\n%s", b)
	}
	if b := written(t, plantest.Sample()); bytes.Contains(b, []byte(`"selection"`)) {
		t.Errorf("a plan of every cluster records a selection")
	}
	for name, sel := range map[string][]string{
		"a cluster missing": {"nothing"},
		"twice":             append(append([]string(nil), p.Clusters...), p.Clusters[0]),
		"empty name":        {""},
	} {
		t.Run(name, func(t *testing.T) {
			q := plantest.Sample()
			q.Meta.Selection = sel
			if err := Write(&bytes.Buffer{}, q); err == nil || !strings.Contains(err.Error(), "selection") {
				t.Errorf("Write: err = %v, want a refusal of the selection", err)
			}
			data := sealedSample(t, func(f *filePlan) { f.Meta.Selection = sel })
			if _, err := Read(bytes.NewReader(data)); !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), "selection") {
				t.Errorf("Read: err = %v, want ErrCorrupted naming the selection", err)
			}
		})
	}
}

// sealedSample is the sample plan's file with edit applied to its payload
// and a checksum that matches: what Write refuses to make, made by hand.
func sealedSample(t *testing.T, edit func(*filePlan)) []byte {
	t.Helper()
	payload, err := toFile(plantest.Sample())
	if err != nil {
		t.Fatal(err)
	}
	edit(payload)
	canon, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(envelope{FormatVersion: FormatVersion, Checksum: checksum(canon), Plan: canon})
	if err != nil {
		t.Fatal(err)
	}
	return data
}
