package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

func TestBackupFreshness(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := &schema.Cluster{Name: "main", Backup: &schema.Backup{Schedule: "0 */6 * * *", On: []string{"etcd-1"}, Destination: "s3://b/main"}}
	runs := Step{Action: InstallBackupJob, Job: &JobInstall{Run: true}}
	reschedules := Step{Action: InstallBackupJob, Job: &JobInstall{}}
	installed := map[string]*state.Host{"etcd-1": {Reachable: true, BackupJob: map[string][]byte{"/etc/cron.d/x": []byte("x")}}}
	unreachable := map[string]*state.Host{"etcd-1": {Reachable: false}}
	tests := map[string]struct {
		obs     *state.Backups
		hosts   map[string]*state.Host
		now     time.Time
		steps   []Step
		want    []string // warning summaries
		refuses []string
	}{
		"none, on host unreachable":    {obs: &state.Backups{Destination: "s3://b/main"}, hosts: unreachable, now: now, want: []string{"No backup"}},
		"none, file:// seen from here": {obs: &state.Backups{Destination: "file:///mnt/nfs/etcd"}, hosts: installed, now: now, want: []string{"No backup"}},
		"not observed":                 {obs: nil, now: now},
		"listing failed":               {obs: &state.Backups{Destination: "s3://b/main", Error: "no credentials"}, now: now, want: []string{"Backups not observed"}},
		"none, job installed":          {obs: &state.Backups{Destination: "s3://b/main"}, hosts: installed, now: now, refuses: []string{"No backup"}},
		"none, job rescheduled":        {obs: &state.Backups{Destination: "s3://b/main"}, hosts: installed, now: now, steps: []Step{reschedules}, refuses: []string{"No backup"}},
		"none, job runs on apply":      {obs: &state.Backups{Destination: "s3://b/main"}, hosts: installed, now: now, steps: []Step{runs}, want: []string{"No backup yet"}},
		"fresh":                        {obs: &state.Backups{Count: 3, Newest: now.Add(-5 * time.Hour)}, now: now},
		"one run missed":               {obs: &state.Backups{Count: 3, Newest: now.Add(-11 * time.Hour)}, now: now},
		"stale":                        {obs: &state.Backups{Count: 3, Newest: now.Add(-13 * time.Hour)}, now: now, want: []string{"Stale backups"}},
		"no clock":                     {obs: &state.Backups{Count: 3, Newest: now.Add(-100 * time.Hour)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cp := newClusterPlanner(c, &state.Cluster{Name: "main", Backups: tc.obs, Hosts: tc.hosts}, Options{})
			cp.steps = tc.steps
			cp.backupFreshness(tc.now)
			var got, refused []string
			for _, w := range cp.warnings {
				got = append(got, w.Summary)
			}
			for _, w := range cp.refusals {
				refused = append(refused, w.Summary)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("warnings (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.refuses, refused); diff != "" {
				t.Fatalf("refusals (-want +got)\n%s", diff)
			}
		})
	}
}

func TestBackupJobs(t *testing.T) {
	b := &schema.Backup{Schedule: "0 */6 * * *", On: []string{"a"}, Destination: "file:///var/backups/etcd", Recipient: "age1x"}
	c := &schema.Cluster{Name: "main", Backup: b, Members: []*schema.Member{{Name: "a", ClientURL: "http://10.0.0.1:2379"}, {Name: "b", ClientURL: "http://10.0.0.2:2379"}}}
	tool := Tool{Path: "/usr/bin/etcdform", SHA256: "new"}
	files := func(c *schema.Cluster, sch backupjob.Scheduler) map[string][]byte {
		fs, err := backupjob.Render(BackupJobSpec(c, c.Members[0], "new"), sch)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]byte{}
		for _, f := range fs {
			m[f.Path] = f.Content
		}
		return m
	}
	cronPath := backupjob.CronPath("main")
	installed := files(c, backupjob.Cron)
	units := files(c, backupjob.Systemd)
	other := *b
	other.Schedule = "@daily"
	oldSchedule := files(&schema.Cluster{Name: "main", Backup: &other, Members: c.Members}, backupjob.Cron)
	edited := map[string][]byte{cronPath: append(slices.Clone(installed[cronPath]), "# x\n"...)}
	oneUnit := map[string][]byte{}
	for p, b := range units {
		if strings.HasSuffix(p, ".timer") {
			oneUnit[p] = b
		}
	}
	type host struct {
		job   map[string][]byte
		tool  string
		timer string
		init  string
		env   string
	}
	tests := map[string]struct {
		manager string
		a, b    host
		tool    Tool
		want    []string // "member attr before->after [upload] [run]"
		remove  []string // of a's step
		bRemove []string // of b's step
		refused string   // a refusal's summary
	}{
		"absent":           {tool: tool, want: []string{"a job (absent)->0 */6 * * * upload run", "a binary_sha256 (absent)->new upload run"}},
		"converged":        {a: host{job: installed, tool: "new", timer: ""}, tool: tool},
		"binary unmanaged": {a: host{job: installed, tool: "old", timer: ""}},
		"new binary":       {a: host{job: installed, tool: "old", timer: ""}, tool: tool, want: []string{"a binary_sha256 old->new upload run"}},
		"schedule":         {a: host{job: oldSchedule, tool: "new", timer: ""}, tool: tool, want: []string{"a schedule @daily->0 */6 * * *"}},
		"hand edit":        {a: host{job: edited, tool: "new", timer: ""}, tool: tool, want: []string{"a job backup job file: edited by hand->0 */6 * * * run"}},
		"not in on":        {a: host{job: installed, tool: "new"}, b: host{job: installed}, tool: tool, want: []string{"b job installed->(absent)"}, bRemove: []string{cronPath, cronPath + ".bak"}},
		"not in on, credentials": {a: host{job: installed, tool: "new"}, b: host{job: installed, env: "e"}, tool: tool, want: []string{"b job installed->(absent)"},
			bRemove: []string{cronPath, cronPath + ".bak", backupjob.DefaultEnvFile, backupjob.DefaultEnvFile + ".bak"}},
		"systemd not running": {manager: "systemd", a: host{job: installed, tool: "new", init: "other"}, tool: tool, refused: "No systemd on the host"},
		"systemd absent":      {manager: "systemd", a: host{job: nil, tool: "new", timer: ""}, tool: tool, want: []string{"a job (absent)->0 */6 * * * run"}},
		"systemd converged":   {manager: "systemd", a: host{job: units, tool: "new", timer: "enabled active"}, tool: tool},
		"systemd timer off": {manager: "systemd", a: host{job: units, tool: "new", timer: "disabled inactive"}, tool: tool,
			want: []string{"a timer disabled inactive->enabled active"}},
		"systemd unit missing": {manager: "systemd", a: host{job: oneUnit, tool: "new", timer: "enabled active"}, tool: tool,
			want: []string{"a job backup job: /etc/systemd/system/etcdform-backup-main.service is missing->0 */6 * * * run"}},
		"cron to systemd": {manager: "systemd", a: host{job: installed, tool: "new", timer: ""}, tool: tool,
			want: []string{"a scheduler cron->systemd run"}, remove: []string{cronPath, cronPath + ".bak"}},
		"systemd to cron": {a: host{job: units, tool: "new", timer: "enabled active"}, tool: tool,
			want: []string{"a scheduler systemd->cron run"}, remove: withBak(backupjob.Paths("main", backupjob.Systemd))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := *c
			c.Service.Manager = tc.manager
			oc := &state.Cluster{Name: "main", Hosts: map[string]*state.Host{
				"a": {Reachable: true, BackupJob: tc.a.job, ToolSHA256: tc.a.tool, BackupTimer: tc.a.timer, Init: tc.a.init, BackupEnvSHA256: tc.a.env},
				"b": {Reachable: true, BackupJob: tc.b.job, ToolSHA256: tc.b.tool, BackupTimer: tc.b.timer, Init: tc.b.init, BackupEnvSHA256: tc.b.env},
			}}
			cp := newClusterPlanner(&c, oc, Options{Tool: tc.tool})
			cp.backupJobs()
			var refused string
			for _, r := range cp.refusals {
				refused += r.Summary
			}
			if refused != tc.refused {
				t.Fatalf("refusals %q, want %q", refused, tc.refused)
			}
			var got []string
			for _, s := range cp.steps {
				if s.Action != InstallBackupJob || s.Job == nil {
					t.Fatalf("step %v, job %v", s.Action, s.Job)
				}
				for _, ch := range s.Changes {
					g := s.Member + " " + ch.Attr + " " + ch.Before + "->" + ch.After
					if len(s.Uploads) > 0 {
						g += " upload"
					}
					if s.Job.Run {
						g += " run"
					}
					got = append(got, g)
				}
				removing := strings.HasSuffix(got[len(got)-1], "(absent)")
				if removing != (len(s.Job.Write) == 0) {
					t.Errorf("step on %s: writes %d files", s.Member, len(s.Job.Write))
				}
				wantSch := backupjob.SchedulerFor(tc.manager)
				if !removing && (s.Job.Scheduler != string(wantSch) || len(s.Job.Write) != len(backupjob.Paths("main", wantSch))) {
					t.Errorf("step on %s: scheduler %q, %d files", s.Member, s.Job.Scheduler, len(s.Job.Write))
				}
				if !removing && (wantSch == backupjob.Systemd) != (s.Job.Timer != "") {
					t.Errorf("step on %s: timer %q", s.Member, s.Job.Timer)
				}
				want := tc.remove
				if s.Member == "b" {
					want = tc.bRemove
				}
				if diff := cmp.Diff(want, s.Job.Remove); diff != "" {
					t.Errorf("%s's removals (-want +got)\n%s", s.Member, diff)
				}
				if _, err := backupjob.Check("main", backupjob.Scheduler(s.Job.Scheduler), files2map(s.Job.Write), s.Job.Remove, s.Job.StopTimers, s.Job.Timer); err != nil {
					t.Errorf("the step's job fails the plan-file check: %v", err)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

// s3.credentials_source is uploaded (by hash, mode 0600) to the hosts of
// `on` whose env file differs, and the job is run once after; a source
// that cannot be read refuses the plan.
func TestBackupCredentials(t *testing.T) {
	b := &schema.Backup{Schedule: "@daily", On: []string{"a"}, Destination: "s3://b/main", Recipient: "age1x",
		S3: &schema.S3Options{Endpoint: "http://s3:9000", CredentialsSource: "/ci/backup.env"}}
	c := &schema.Cluster{Name: "main", Backup: b, Members: []*schema.Member{{Name: "a", ClientURL: "http://10.0.0.1:2379"}}}
	fs, _ := backupjob.Render(BackupJobSpec(c, c.Members[0], ""), backupjob.Cron)
	installed := map[string][]byte{fs[0].Path: fs[0].Content}
	for name, tc := range map[string]struct {
		source, onHost, readErr string
		want                    []string // "attr before->after"
		refused                 bool
	}{
		"absent on host": {source: "s1", want: []string{"credentials (absent)->s1"}},
		"same":           {source: "s1", onHost: "s1"},
		"rotated":        {source: "s2", onHost: "s1", want: []string{"credentials s1->s2"}},
		"unreadable":     {readErr: "permission denied", onHost: "s1", refused: true},
	} {
		t.Run(name, func(t *testing.T) {
			oc := &state.Cluster{Name: "main", CredentialsSHA256: tc.source, CredentialsError: tc.readErr, Hosts: map[string]*state.Host{
				"a": {Reachable: true, BackupJob: installed, BackupEnvSHA256: tc.onHost},
			}}
			cp := newClusterPlanner(c, oc, Options{})
			cp.backupJobs()
			if tc.refused != (len(cp.refusals) == 1) {
				t.Fatalf("refusals %v", cp.refusals)
			}
			var got []string
			for _, s := range cp.steps {
				for _, ch := range s.Changes {
					got = append(got, ch.Attr+" "+ch.Before+"->"+ch.After)
				}
				if len(s.Uploads) != 1 || s.Uploads[0].Mode != 0o600 || s.Uploads[0].Source != "/ci/backup.env" ||
					s.Uploads[0].Path != backupjob.DefaultEnvFile || s.Uploads[0].SHA256 != tc.source || !s.Job.Run {
					t.Fatalf("step %+v", s)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func files2map(fs []File) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range fs {
		m[f.Path] = f.Content
	}
	return m
}

func withBak(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, p, p+".bak")
	}
	return out
}

// TestBackupJobSpecTLS: the job of a member with an https client URL
// names that member's client-side files on the host; a plain member's
// names none.
func TestBackupJobSpecTLS(t *testing.T) {
	tlsm := &schema.Member{Name: "etcd-1", ClientURL: "https://10.0.0.1:2379", TLS: &schema.TLS{Client: &schema.TLSEndpoint{
		CA: schema.TLSFile{Path: "/etc/etcd/pki/ca.pem"}, Cert: schema.TLSFile{Path: "/etc/etcd/pki/etcd-1.pem"}, Key: schema.TLSFile{Path: "/etc/etcd/pki/etcd-1-key.pem"}}}}
	c := &schema.Cluster{Name: "main", Backup: &schema.Backup{Schedule: "0 */6 * * *", On: []string{"etcd-1"}, Destination: "s3://b/main"}}
	s := BackupJobSpec(c, tlsm, "")
	if s.EtcdCA != "/etc/etcd/pki/ca.pem" || s.EtcdCert != "/etc/etcd/pki/etcd-1.pem" || s.EtcdKey != "/etc/etcd/pki/etcd-1-key.pem" {
		t.Errorf("https member's job: ca %q cert %q key %q", s.EtcdCA, s.EtcdCert, s.EtcdKey)
	}
	plain := &schema.Member{Name: "etcd-1", ClientURL: "http://10.0.0.1:2379"}
	if s := BackupJobSpec(c, plain, ""); s.EtcdCA != "" || s.EtcdCert != "" || s.EtcdKey != "" {
		t.Errorf("plain member's job names TLS files: %+v", s)
	}
}
