package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
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
// removes the cron file, writes the units, reloads systemd, enables and
// restarts the timer, then runs the job once, in that order.
func TestBackupJobStep(t *testing.T) {
	job := &plan.JobInstall{Scheduler: "systemd", Remove: []string{"/etc/cron.d/etcdform-backup-lab"},
		Write: []plan.File{{Path: "/etc/systemd/system/b.service", Content: []byte("svc")}, {Path: "/etc/systemd/system/b.timer", Content: []byte("tmr")}},
		Timer: "b.timer", RunCommand: "systemctl start b.service"}
	for name, tc := range map[string]struct {
		job     *plan.JobInstall
		failOn  string
		want    []string
		wantErr string
	}{
		"cron to systemd": {job: job, want: []string{
			"rm -f -- '/etc/cron.d/etcdform-backup-lab'",
			"mkdir -p -- '/etc/systemd/system'",
			"mkdir -p -- '/etc/systemd/system'",
			"systemctl daemon-reload",
			"systemctl enable 'b.timer' && systemctl restart 'b.timer'",
			"systemctl start b.service",
		}},
		"first run fails": {job: job, failOn: "systemctl start", wantErr: "failed its first run"},
		"removal": {job: &plan.JobInstall{StopTimers: []string{"b.timer"}, Remove: []string{"/etc/systemd/system/b.service", "/etc/systemd/system/b.timer"}}, want: []string{
			"if systemctl cat 'b.timer' >/dev/null 2>&1; then systemctl disable --now 'b.timer'; fi",
			"rm -f -- '/etc/systemd/system/b.service'",
			"rm -f -- '/etc/systemd/system/b.timer'",
			"systemctl daemon-reload",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{obs: testObserved("h1")}
			h := jobHost{&recHost{fakeHost: fakeHost{w: w}, writes: map[string]recWrite{}}, tc.failOn}
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: plan.FingerprintOf(w.obs)}
			p.Steps = []plan.Step{{Action: plan.InstallBackupJob, Cluster: "lab", Member: "b", MemberID: 2, Job: tc.job}}
			res, err := Run(t.Context(), testConfig(), p, jobConn{recConn{fakeConn{w}, h.recHost}, h}, Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "boom") || res.Steps[0].Outcome != "failed" {
					t.Fatalf("err %v, outcome %s", err, res.Steps[0].Outcome)
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
