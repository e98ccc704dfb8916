package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// An install-backup-job step that moves a job from cron to systemd
// writes the units, reloads systemd, enables and restarts the timer, and
// only then removes the cron file; then it runs the job once, with the
// command derived from the units it wrote.
func TestBackupJobStep(t *testing.T) {
	c := testConfig().Clusters[0]
	c.Backup = &schema.Backup{Schedule: "@daily", On: []string{"b"}, Destination: "s3://bk/lab", Recipient: "age1x"}
	fs, err := backupjob.Render(plan.BackupJobSpec(c, c.Members[1], ""), backupjob.Systemd)
	if err != nil {
		t.Fatal(err)
	}
	var units []plan.File
	for _, f := range fs {
		units = append(units, plan.File{Path: f.Path, Content: f.Content})
	}
	svc, timer := fs[0].Path, "etcdform-backup-lab.timer"
	job := &plan.JobInstall{Scheduler: "systemd", Write: units, Timer: timer, Remove: []string{"/etc/cron.d/etcdform-backup-lab"}, Run: true}
	creds := filepath.Join(t.TempDir(), "s3.env")
	if err := os.WriteFile(creds, []byte("AWS_SECRET_ACCESS_KEY=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("AWS_SECRET_ACCESS_KEY=x\n"))
	credUpload := plan.Upload{Role: "backup-credentials", Path: backupjob.DefaultEnvFile, Source: creds, SHA256: hex.EncodeToString(sum[:]), Mode: 0o600}
	var files []File
	for _, f := range units {
		files = append(files, File{Path: f.Path, Data: f.Content, Mode: 0o644})
	}
	for name, tc := range map[string]struct {
		job     *plan.JobInstall
		uploads []plan.Upload
		failOn  string
		want    []op
		wantErr string
	}{
		"cron to systemd": {job: job, uploads: []plan.Upload{credUpload}, want: []op{
			// No copy of the replaced secret is kept.
			{Host: "b", Op: "install-files", Files: []File{{Path: backupjob.DefaultEnvFile, Data: []byte("AWS_SECRET_ACCESS_KEY=x\n"), Mode: 0o600, DropPrevious: true}}},
			{Host: "b", Op: "install-job", Job: &Job{Files: files, Dirs: []string{"/var/log/etcdform"}, Timer: timer, Remove: []string{"/etc/cron.d/etcdform-backup-lab"}}},
			{Host: "b", Op: "run-job", Run: &JobRun{Command: "systemctl start etcdform-backup-lab.service", Unit: "etcdform-backup-lab.service", Log: backupjob.DefaultLog}},
		}},
		"first run fails": {job: job, failOn: "run-job b", wantErr: "running the backup job once on b: injected failure"},
		"removal": {job: &plan.JobInstall{StopTimers: []string{timer}, Remove: []string{svc, fs[1].Path, backupjob.DefaultEnvFile}}, want: []op{
			{Host: "b", Op: "install-job", Job: &Job{StopTimers: []string{timer}, Remove: []string{svc, fs[1].Path, backupjob.DefaultEnvFile}}},
		}},
		"a job of another cluster": {job: &plan.JobInstall{Remove: []string{"/etc/etcd/etcd.conf.yml"}}, wantErr: "not a file of cluster lab's backup job"},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{obs: testObserved("h1"), failOn: tc.failOn}
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(w.obs)}
			p.Steps = []plan.Step{{Action: plan.InstallBackupJob, Cluster: "lab", Member: "b", MemberID: 2, Job: tc.job, Uploads: tc.uploads}}
			cfg := &schema.Config{Clusters: []*schema.Cluster{c}, Hash: "h"}
			res, err := Run(t.Context(), withTargets(cfg, p), fakeConn{w}, Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || res.Steps[0].Outcome != "failed" {
					t.Fatalf("err %v, outcome %s", err, res.Steps[0].Outcome)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, w.ops); diff != "" {
				t.Fatalf("host operations (-want +got)\n%s", diff)
			}
		})
	}
}
