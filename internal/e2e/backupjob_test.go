package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestBackupJobE2E: apply installs the backup job on the host of the
// member named in `on` (visible over SSH), the installed command works
// when run there, a schedule change is a plan change that apply
// converges, and moving `on` moves the job. Schedules are yearly: the
// hosts' cron must not fire a job while the test runs.
func TestBackupJobE2E(t *testing.T) {
	b := upBackupLab(t, lab.Options{Members: 3})
	st := b.st
	block := func(schedule, on string) func(string) string {
		return b.block(backupBlock{Schedule: schedule, On: on, KeepLast: 3})
	}
	dir := config(t, st, block("0 0 1 1 *", "etcd-1"))
	h1, h2 := st.Members()[0], st.Members()[1]
	ssh := func(h lab.Host, cmd string) (string, error) { return labtest.SSH(st, h, cmd) }
	path := backupjob.CronPath(lab.ClusterName)

	p, code := planAsJSON(t, dir)
	if code != 2 || len(p.Steps) != 1 || p.Steps[0].Action != "install-backup-job" || p.Steps[0].Member != "etcd-1" {
		t.Fatalf("plan with a new backup block: exit %d, steps %v", code, actions(p))
	}
	if _, _, code := cli(t, "apply", "--auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	job, err := ssh(h1, "cat "+path)
	if err != nil || !strings.Contains(job, "0 0 1 1 * root ") || !strings.Contains(job, "/usr/local/bin/etcdform backup run --cluster lab") {
		t.Fatalf("installed job on etcd-1: %v\n%s", err, job)
	}
	if out, err := ssh(h2, "ls "+path); err == nil {
		t.Fatalf("etcd-2 has the job too: %s", out)
	}
	// A real cron daemon runs in the host, reading the host's own cron.d.
	if _, err := os.Stat(lab.CronBinary); err == nil {
		if out, err := ssh(h1, "sv status /etc/service/cron"); err != nil || !strings.HasPrefix(out, "run:") {
			t.Fatalf("cron in etcd-1's host: %v %s", err, out)
		}
		if _, err := os.Stat(filepath.Join(h1.Root, "etc-cron.d", filepath.Base(path))); err != nil {
			t.Fatalf("the job is not in the host's own cron.d: %v", err)
		}
	} else if os.Getenv("ETCDFORM_E2E") == "required" {
		t.Fatalf("no %s: `make deps` installs Debian's cron", lab.CronBinary)
	}
	if p, code := planAsJSON(t, dir); code != 0 || len(p.Steps) != 0 {
		t.Fatalf("plan after apply: exit %d, steps %v", code, actions(p))
	}

	// apply ran the new job once; run the installed command on the host
	// again, as cron would.
	cmd := cronCommand(t, job)
	if out, err := ssh(h1, cmd); err != nil {
		t.Fatalf("running the installed job: %v\n%s", err, out)
	}
	if prom, err := os.ReadFile(h1.Path(backupjob.DefaultTextfile)); err != nil ||
		!strings.Contains(string(prom), `etcdform_backup_last_run_success{cluster="lab"} 1`) {
		t.Fatalf("the job's textfile in etcd-1's host: %v\n%s", err, prom)
	}
	objs, _ := filepath.Glob(filepath.Join(h1.Path("/var/backups"), "etcd", "lab-*.snap.age"))
	if len(objs) != 2 {
		t.Fatalf("backup objects on etcd-1's host after apply's first run and one more: %v", objs)
	}
	if log, err := os.ReadFile(h1.Path(backupjob.DefaultLog)); err != nil || !strings.Contains(string(log), "encrypted with age") {
		t.Fatalf("the first run's log in etcd-1's host: %v\n%s", err, log)
	}
	if ents, err := os.ReadDir(h1.Path(backupjob.DefaultWorkDir)); err != nil || len(ents) != 0 {
		t.Fatalf("the job's work dir after runs: %v %v", err, ents)
	}
	if b, _ := os.ReadFile(objs[0]); !strings.HasPrefix(string(b), "age-encryption.org/v1\n") {
		t.Fatal("the job's object is not age ciphertext")
	}
	o, _, code := cli(t, "backup", "list", "--json", "--destination", "file://"+filepath.Join(h1.Root, "var-backups", "etcd"), "--cluster", "lab")
	var list []struct {
		Encrypted bool `json:"encrypted"`
	}
	if code != 0 || json.Unmarshal([]byte(o), &list) != nil || len(list) != 2 || !list[0].Encrypted || !list[1].Encrypted {
		t.Fatalf("backup list of the host's destination: exit %d, %s", code, o)
	}

	// A schedule change is a plan change; apply converges.
	dir = config(t, st, block("0 0 1 7 *", "etcd-1"))
	p, code = planAsJSON(t, dir)
	if code != 2 || len(p.Steps) != 1 || p.Steps[0].Action != "install-backup-job" || len(p.Steps[0].Changes) != 1 ||
		p.Steps[0].Changes[0].Attr != "schedule" || p.Steps[0].Changes[0].After != "0 0 1 7 *" {
		t.Fatalf("plan after a schedule change: exit %d, %+v", code, p.Steps)
	}
	if _, _, code := cli(t, "apply", "--auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	if job, _ := ssh(h1, "cat "+path); !strings.Contains(job, "\n0 0 1 7 * root ") {
		t.Fatalf("job after the schedule change:\n%s", job)
	}
	if p, code := planAsJSON(t, dir); code != 0 || len(p.Steps) != 0 {
		t.Fatalf("plan after converging: exit %d, steps %v", code, actions(p))
	}

	// Moving `on` moves the job.
	dir = config(t, st, block("0 0 1 7 *", "etcd-2"))
	if _, _, code := cli(t, "apply", "--auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	if out, err := ssh(h1, "ls "+path); err == nil {
		t.Fatalf("etcd-1 still has the job: %s", out)
	}
	if _, err := ssh(h2, "cat "+path); err != nil {
		t.Fatal("etcd-2 has no job after moving on")
	}

	// The installed job uploads to S3 (a server on the lab bridge, which
	// hosts reach) with the credentials apply uploaded: an encrypted
	// object, never the plaintext; keep_last.
	b.startS3(t)
	srv := b.srv
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const marker = "job-e2e-plaintext-marker"
	if _, err := c.Put(ctx, "/registry/secrets/marker", marker); err != nil {
		t.Fatal(err)
	}
	dir = config(t, st, b.block(backupBlock{Schedule: "0 0 1 7 *", On: "etcd-2", KeepLast: 1}))
	p, code = planAsJSON(t, dir)
	if code != 2 || len(p.Steps) != 1 || p.Steps[0].Member != "etcd-2" {
		t.Fatalf("plan after a destination change: exit %d, %v", code, actions(p))
	}
	if _, _, code := cli(t, "apply", "--auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	job, err = ssh(h2, "cat "+path)
	if err != nil {
		t.Fatal(err)
	}
	// The command reads the S3 keys from the env file apply uploaded.
	cmd = cronCommand(t, job)
	for range 2 {
		if out, err := ssh(h2, cmd); err != nil {
			t.Fatalf("running the installed S3 job on etcd-2: %v\n%s", err, out)
		}
	}
	keys := srv.Objects(t, "backups")
	if len(keys) != 2 {
		t.Fatalf("bucket after apply's first run and two more with keep_last = 1: %v", keys)
	}
	for _, k := range keys {
		raw, err := io.ReadAll(must(srv.Client().GetObject(ctx, "backups", k, minio.GetObjectOptions{})))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(k, ".snap.age") && (!bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte(marker))) {
			t.Fatalf("%s is not age ciphertext, or holds plaintext", k)
		}
	}
}

// cronCommand is the command of a cron.d job file's job line, as cron
// runs it (unescaped), with its output to stdout instead of the log.
func cronCommand(t *testing.T, job string) string {
	t.Helper()
	line := strings.TrimSpace(job)
	line = line[strings.LastIndex(line, "\n")+1:]
	f := strings.SplitN(line, " ", 7)
	if len(f) != 7 {
		t.Fatalf("job line %q", line)
	}
	return strings.Replace(strings.ReplaceAll(f[6], `\%`, "%"), ">>"+backupjob.DefaultLog+" 2>&1", "", 1)
}
