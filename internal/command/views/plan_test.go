package views

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/schema"
)

// The -update flag rewrites the golden files:
//
//	go test ./internal/command/views -update
//
// It is registered in init only if another test file of the package has not
// registered it already (package variables initialise before init).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", path, diff)
	}
}

func emptyPlan() *plan.Plan {
	c := plantest.Cluster(1, 2, 3)
	p := plan.Make(plantest.Config(c), plantest.Observed(plantest.Observe(c, 1)), plan.Options{})
	return p
}

// backupPlan changes the backup job of a cluster whose etcd runit runs:
// etcd-1 holds the cron job with an older schedule and gets S3
// credentials, etcd-2 holds a job but is no longer in backup.on, and the
// etcdform binary is new everywhere.
func backupPlan(t *testing.T) *plan.Plan {
	t.Helper()
	c := plantest.Cluster(1, 2, 3)
	c.Service.Manager = "runit"
	c.Backup = &schema.Backup{Schedule: "0 */6 * * *", On: []string{"etcd-1"}, Destination: "s3://backups/etcd", KeepLast: 7,
		Recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", S3: &schema.S3Options{Region: "eu-west-1", CredentialsSource: "/etc/etcdform/s3.env"}}
	oc := plantest.Observe(c, 1)
	old := *c.Backup
	old.Schedule = "@daily"
	installed := plan.BackupJobSpec(&schema.Cluster{Name: c.Name, Service: c.Service, Members: c.Members, Backup: &old}, c.Members[0], "0ld")
	files, err := backupjob.Render(installed, backupjob.Cron)
	if err != nil {
		t.Fatal(err)
	}
	job := map[string][]byte{}
	for _, f := range files {
		job[f.Path] = f.Content
	}
	oc.Hosts["etcd-1"].BackupJob, oc.Hosts["etcd-1"].ToolSHA256 = job, "0ld"
	oc.Hosts["etcd-2"].BackupJob, oc.Hosts["etcd-2"].BackupEnvSHA256 = job, "c0ffee"
	oc.CredentialsSHA256 = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
	return plan.Make(plantest.Config(c), plantest.Observed(oc), plan.Options{
		Tool: plan.Tool{Path: "/usr/local/bin/etcdform", SHA256: "9e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Version: "0.2.0"},
		Meta: plan.Meta{ToolVersion: "0.2.0", Author: "ci@example.com"},
	})
}

func TestPlanViewsGolden(t *testing.T) {
	plans := map[string]*plan.Plan{"sample": plantest.Sample(), "empty": emptyPlan(), "backup": backupPlan(t)}
	views := map[string]PlanView{
		"human.txt":   NewPlanView(PlanFormatHuman, false),
		"color.txt":   NewPlanView(PlanFormatHuman, true),
		"json":        NewPlanView(PlanFormatJSON, true),
		"markdown.md": NewPlanView(PlanFormatMarkdown, true),
	}
	for pn, p := range plans {
		for vn, v := range views {
			t.Run(pn+"."+vn, func(t *testing.T) {
				var buf bytes.Buffer
				if err := v.Plan(&buf, p); err != nil {
					t.Fatal(err)
				}
				golden(t, "plan-"+pn+"."+vn, buf.Bytes())
			})
		}
	}
}

func TestPlanHumanColor(t *testing.T) {
	var plain, color bytes.Buffer
	p := plantest.Sample()
	if err := (&PlanHuman{}).Plan(&plain, p); err != nil {
		t.Fatal(err)
	}
	if err := (&PlanHuman{Color: true}).Plan(&color, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("colourless output holds escape codes")
	}
	if !strings.Contains(color.String(), "\x1b[") {
		t.Error("coloured output holds no escape code")
	}
}

func TestPlanSummaryLine(t *testing.T) {
	tests := map[string]struct {
		steps    []plan.Action
		refusals int
		want     string
	}{
		"empty":         {want: "Plan: no changes; 0 refusals."},
		"config change": {steps: []plan.Action{plan.Snapshot, plan.WriteConfig, plan.Restart, plan.WriteConfig, plan.Restart, plan.WriteConfig, plan.Restart}, want: "Plan: 1 snapshot, 3 config writes, 3 restarts; 0 refusals."},
		"refused":       {steps: []plan.Action{plan.RemoveMember}, refusals: 1, want: "Plan: 1 removal; 1 refusal."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &plan.Plan{}
			for _, a := range tc.steps {
				p.Steps = append(p.Steps, plan.Step{Action: a})
			}
			for range tc.refusals {
				p.Refusals = append(p.Refusals, plan.Warning{})
			}
			if diff := cmp.Diff(tc.want, summaryLine(p)); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestPlanMarkdownMarkerFirst(t *testing.T) {
	var buf bytes.Buffer
	if err := (&PlanMarkdown{}).Plan(&buf, plantest.Sample()); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(buf.String(), "\n")
	if first != PlanMarkerLine {
		t.Errorf("first line = %q, want the marker %q", first, PlanMarkerLine)
	}
	if strings.Count(buf.String(), "<details><summary>Cluster") != 2 {
		t.Errorf("want one <details> per cluster")
	}
}

func TestPlanJSONShape(t *testing.T) {
	var buf bytes.Buffer
	p := plantest.Sample()
	if err := (&PlanJSON{}).Plan(&buf, p); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Applicable    bool   `json:"applicable"`
		Steps         []struct {
			Index   int    `json:"index"`
			Action  string `json:"action"`
			Refused bool   `json:"refused"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.FormatVersion != PlanJSONVersion || doc.Applicable || len(doc.Steps) != len(p.Steps) {
		t.Errorf("doc = %+v", doc)
	}
	refused := 0
	for i, s := range doc.Steps {
		if s.Index != i+1 || s.Action != p.Steps[i].Action.String() {
			t.Errorf("step %d = %+v", i+1, s)
		}
		if s.Refused {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no step marked refused in a plan with step refusals")
	}
}

// A backup job step says under which scheduler it installs the job and
// that apply takes a backup now, in every format.
func TestPlanBackupJobNote(t *testing.T) {
	p := &plan.Plan{Clusters: []string{"c"}, Steps: []plan.Step{{Action: plan.InstallBackupJob, Cluster: "c", Member: "m1",
		Changes: []plan.Change{{Attr: "job", Before: "(absent)", After: "@daily"}},
		Job: &plan.JobInstall{Scheduler: "systemd", Write: []plan.File{{Path: "/etc/systemd/system/x.service", Content: []byte("x")}},
			Timer: "etcdform-backup-c.timer", Run: true}}}}
	for _, f := range []PlanFormat{PlanFormatHuman, PlanFormatMarkdown, PlanFormatJSON} {
		var b strings.Builder
		if err := NewPlanView(f, false).Plan(&b, p); err != nil {
			t.Fatal(err)
		}
		want := "apply then runs the job once"
		if f == PlanFormatJSON {
			want = `"run": true`
		}
		if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "etcdform-backup-c.timer") {
			t.Errorf("format %v:\n%s", f, b.String())
		}
	}
}
