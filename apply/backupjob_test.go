package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// jobHost is a recHost whose commands containing failOn fail.
type jobHost struct {
	*recHost
	failOn string
}

func (h jobHost) Run(ctx context.Context, cmd string) (string, error) {
	h.runs = append(h.runs, cmd)
	if h.failOn != "" && strings.Contains(cmd, h.failOn) {
		return "boom", errors.New("exit status 1")
	}
	return "", nil
}

// An install-backup-job step that moves a job from cron to systemd
// writes the units, reloads systemd, enables and restarts the timer, and
// only then removes the cron file; then it runs the job once, with the
// command derived from the units it wrote.
func TestBackupJobStep(t *testing.T) {
	c := testConfig().Clusters[0]
	c.Backup = &schema.Backup{Schedule: "@daily", On: []string{"b"}, Destination: "s3://bk/lab", Recipient: "age1x"}
	fs, err := backupjob.Render(backupjob.SpecFor(c, c.Members[1], ""), backupjob.Systemd)
	if err != nil {
		t.Fatal(err)
	}
	var units []plan.File
	for _, f := range fs {
		units = append(units, plan.File{Path: f.Path, Content: f.Content})
	}
	svc, timer := fs[0].Path, "etcdform-backup-lab.timer"
	job := &plan.JobInstall{Scheduler: "systemd", Write: units, Timer: timer, Remove: []string{"/etc/cron.d/etcdform-backup-lab"}, Run: true}
	for name, tc := range map[string]struct {
		job     *plan.JobInstall
		failOn  string
		want    []string
		wantErr string
	}{
		"cron to systemd": {job: job, want: []string{
			"mkdir -p -- '/var/log/etcdform' '/etc/systemd/system'",
			"systemctl daemon-reload",
			"systemctl enable '" + timer + "' && systemctl restart '" + timer + "'",
			"rm -f -- '/etc/cron.d/etcdform-backup-lab'",
			"systemctl start etcdform-backup-lab.service",
		}},
		"first run fails": {job: job, failOn: "systemctl start", wantErr: "failed its first run"},
		"removal": {job: &plan.JobInstall{StopTimers: []string{timer}, Remove: []string{svc, fs[1].Path, backupjob.DefaultEnvFile}}, want: []string{
			"if [ -d /run/systemd/system ]; then if systemctl cat '" + timer + "' >/dev/null 2>&1; then systemctl disable --now '" + timer + "'; fi; fi",
			"rm -f -- '" + svc + "'",
			"rm -f -- '" + fs[1].Path + "'",
			"rm -f -- '" + backupjob.DefaultEnvFile + "'",
			"if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi",
		}},
		"a job of another cluster": {job: &plan.JobInstall{Remove: []string{"/etc/etcd/etcd.conf.yml"}}, wantErr: "not a file of cluster lab's backup job"},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{obs: testObserved("h1")}
			h := jobHost{&recHost{fakeHost: fakeHost{w: w}, writes: map[string]recWrite{}}, tc.failOn}
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(w.obs)}
			p.Steps = []plan.Step{{Action: plan.InstallBackupJob, Cluster: "lab", Member: "b", MemberID: 2, Job: tc.job}}
			cfg := &schema.Config{Clusters: []*schema.Cluster{c}, Hash: "h"}
			res, err := Run(t.Context(), cfg, p, jobConn{recConn{fakeConn{w}, h.recHost}, h}, Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || res.Steps[0].Outcome != "failed" {
					t.Fatalf("err %v, outcome %s", err, res.Steps[0].Outcome)
				}
				if tc.failOn != "" && !strings.Contains(err.Error(), "boom") {
					t.Fatalf("err %v does not carry the command's output", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, h.runs); diff != "" {
				t.Fatalf("commands (-want +got)\n%s", diff)
			}
			for _, f := range tc.job.Write {
				if string(h.writes[f.Path].data) != string(f.Content) || h.writes[f.Path].mode != 0o644 {
					t.Errorf("%s written as %+v", f.Path, h.writes[f.Path])
				}
			}
		})
	}
}

type jobConn struct {
	recConn
	h jobHost
}

func (c jobConn) Host(ctx context.Context, cl *schema.Cluster, m *schema.Member) (Host, error) {
	c.h.name = m.Name
	return c.h, nil
}
