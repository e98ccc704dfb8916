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
	"github.com/etcdform/etcdform/providers/backupstore/s3test"
)

// TestSystemdE2E runs etcdform against hosts whose init is a real systemd
// (lab --init systemd; the configuration says manager = "systemd"):
//   - a backup block becomes a systemd service + timer on the host of `on`
//     (visible over SSH with systemctl), enabled, and run once by apply:
//     an encrypted object lands in S3 with the credentials apply uploaded;
//   - a schedule change is a plan change that apply converges, and the
//     timer's calendar follows;
//   - a timer disabled by hand is a plan change; apply enables it again;
//   - the installed job, started through systemd, makes another backup;
//   - a quota change rolls the members through systemctl restarts;
//   - removing the block removes the timer, the units and the credentials.
func TestSystemdE2E(t *testing.T) {
	b := upBackupLab(t, lab.Options{Members: 3, Init: lab.InitSystemd})
	b.startS3(t)
	st, srv := b.st, b.srv
	env := s3Env
	block := func(schedule string) func(string) string {
		return b.block(backupBlock{Schedule: schedule, KeepLast: 10})
	}
	h1 := st.Members()[0]
	ssh := func(cmd string) (string, error) {
		out, err := labtest.SSH(st, h1, cmd)
		return strings.TrimSpace(out), err
	}
	// The S3 secret key is in the credentials source and on the host, and
	// nowhere else: not in plan output, plan files, apply output or the
	// audit record.
	noSecret := func(what, s string) {
		t.Helper()
		if strings.Contains(s, s3test.SecretKey) {
			t.Fatalf("the S3 secret key is in %s", what)
		}
	}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	plan := func(dir string) (planJSON, int) {
		t.Helper()
		out, errOut, code := cliEnv(t, env, "plan", "--json", "--detailed-exitcode", dir)
		noSecret("plan output", out+errOut)
		var p planJSON
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("plan --json: %v\n%s", err, out)
		}
		return p, code
	}
	apply := func(dir string) {
		t.Helper()
		pf := filepath.Join(t.TempDir(), "plan.etcdform")
		out, errOut, code := cliEnv(t, env, "plan", "--out", pf, dir)
		noSecret("plan output", out+errOut)
		if code != 0 {
			t.Fatalf("plan --out: exit %d", code)
		}
		for _, args := range [][]string{{"show", pf}, {"show", "--json", pf}, {"show", "--markdown", pf}} {
			out, errOut, code := cliEnv(t, env, args...)
			noSecret(strings.Join(args, " "), out+errOut)
			if code != 0 {
				t.Fatalf("%s: exit %d", strings.Join(args, " "), code)
			}
		}
		b, err := os.ReadFile(pf)
		if err != nil {
			t.Fatal(err)
		}
		noSecret("the plan file", string(b))
		out, errOut, code = cliEnv(t, env, "apply", "--auto-approve", "--audit-log", audit, pf)
		noSecret("apply output", out+errOut)
		if code != 0 {
			t.Fatalf("apply: exit %d", code)
		}
		b, _ = os.ReadFile(audit)
		noSecret("the audit record", string(b))
	}
	snapshots := func() []string {
		var out []string
		for _, k := range srv.Objects(t, "backups") {
			if strings.HasSuffix(k, ".snap.age") {
				out = append(out, k)
			}
		}
		return out
	}
	timer := backupjob.TimerUnit(lab.ClusterName)
	service := backupjob.SystemdUnitName(lab.ClusterName) + ".service"

	// The lab's etcd is a systemd unit.
	if out, err := ssh("systemctl is-active etcd.service && readlink /proc/1/exe"); err != nil || !strings.HasSuffix(out, "systemd") {
		t.Fatalf("etcd under systemd on etcd-1: %v %q", err, out)
	}

	const marker = "systemd-e2e-plaintext-marker"
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if _, err := c.Put(ctx, "/registry/secrets/marker", marker); err != nil {
		t.Fatal(err)
	}

	// Declaring the block: one install-backup-job step, with no backup yet
	// (a warning: apply runs the job once).
	dir := config(t, st, block("0 0 1 1 *"))
	p, code := plan(dir)
	if code != 2 || len(p.Steps) != 1 || p.Steps[0].Action != "install-backup-job" || p.Steps[0].Member != "etcd-1" {
		t.Fatalf("plan with a new backup block: exit %d, steps %v", code, actions(p))
	}
	apply(dir)
	if out, err := ssh("systemctl is-enabled " + timer + "; systemctl is-active " + timer); err != nil || out != "enabled\nactive" {
		t.Fatalf("timer on etcd-1: %v %q", err, out)
	}
	if out, err := ssh("cat /etc/systemd/system/" + timer); err != nil || !strings.Contains(out, "OnCalendar=*-01-01 00:00:00 UTC") {
		t.Fatalf("timer unit: %v\n%s", err, out)
	}
	if out, err := ssh("systemctl list-timers --all --no-pager " + timer); err != nil || !strings.Contains(out, service) {
		t.Fatalf("list-timers: %v\n%s", err, out)
	}
	if out, err := ssh("stat -c %a /etc/etcdform/backup.env; ls /etc/cron.d"); err != nil || out != "600" {
		t.Fatalf("credentials mode, and no cron file, on etcd-1: %v %q", err, out)
	}
	for _, h := range st.Members()[1:] {
		if _, err := os.Stat(filepath.Join(h.Root, "etc-systemd", timer)); err == nil {
			t.Fatalf("%s has the timer too", h.Name)
		}
	}
	snaps := snapshots()
	if len(snaps) != 1 {
		t.Fatalf("objects after apply's first run: %v", snaps)
	}
	raw, err := io.ReadAll(must(srv.Client().GetObject(ctx, "backups", snaps[0], minio.GetObjectOptions{})))
	if err != nil || !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte(marker)) {
		t.Fatalf("%s is not age ciphertext, or holds plaintext (%v)", snaps[0], err)
	}
	if p, code := plan(dir); code != 0 || len(p.Steps) != 0 || len(p.Refusals) != 0 {
		t.Fatalf("plan after apply: exit %d, steps %v, refusals %+v", code, actions(p), p.Refusals)
	}

	// A schedule change: the timer's calendar follows, nothing runs.
	dir = config(t, st, block("0 0 1 7 *"))
	p, code = plan(dir)
	if code != 2 || len(p.Steps) != 1 || len(p.Steps[0].Changes) != 1 || p.Steps[0].Changes[0].Attr != "schedule" {
		t.Fatalf("plan after a schedule change: exit %d, %+v", code, p.Steps)
	}
	apply(dir)
	if out, err := ssh("systemctl show -P TimersCalendar " + timer); err != nil || !strings.Contains(out, "*-07-01 00:00:00 UTC") {
		t.Fatalf("timer calendar after the change: %v %q", err, out)
	}
	if n := len(snapshots()); n != 1 {
		t.Fatalf("a schedule change ran the job: %d snapshots", n)
	}

	// A timer disabled by hand is drift that apply undoes.
	if out, err := ssh("systemctl disable --now " + timer); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	p, code = plan(dir)
	if code != 2 || len(p.Steps) != 1 || len(p.Steps[0].Changes) != 1 || p.Steps[0].Changes[0].Attr != "timer" ||
		p.Steps[0].Changes[0].Before != "disabled inactive" {
		t.Fatalf("plan after disabling the timer: exit %d, %+v", code, p.Steps)
	}
	apply(dir)
	if out, err := ssh("systemctl is-enabled " + timer + "; systemctl is-active " + timer); err != nil || out != "enabled\nactive" {
		t.Fatalf("timer after apply: %v %q", err, out)
	}

	// The installed job, started through systemd as its timer would.
	if out, err := ssh("systemctl start " + service); err != nil {
		t.Fatalf("systemctl start %s: %v\n%s", service, err, out)
	}
	if n := len(snapshots()); n != 2 {
		t.Fatalf("snapshots after starting the job: %d", n)
	}
	if prom, err := os.ReadFile(h1.Path(backupjob.DefaultTextfile)); err != nil ||
		!strings.Contains(string(prom), `etcdform_backup_last_run_success{cluster="lab"} 1`) {
		t.Fatalf("the job's textfile: %v\n%s", err, prom)
	}

	// A rolling restart through systemctl.
	dir = config(t, st, func(s string) string { return withStorage("3GiB")(block("0 0 1 7 *")(s)) })
	p, code = plan(dir)
	if code != 2 || strings.Count(strings.Join(actions(p), ","), "restart") != 3 {
		t.Fatalf("plan of a quota change: exit %d, %v", code, actions(p))
	}
	apply(dir)
	if p, code := plan(dir); code != 0 || len(p.Steps) != 0 {
		t.Fatalf("plan after the rolling restart: exit %d, %v", code, actions(p))
	}
	if r, err := c.Get(ctx, "/registry/secrets/marker"); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != marker {
		t.Fatalf("the marker after the rolling restart: %v", err)
	}

	// Removing the block stops the timer and removes the units and the
	// S3 credentials.
	dir = config(t, st, withStorage("3GiB"))
	p, code = plan(dir)
	if code != 2 || len(p.Steps) != 1 || p.Steps[0].Action != "install-backup-job" || p.Steps[0].Changes[0].After != "(absent)" {
		t.Fatalf("plan without the backup block: exit %d, %+v", code, p.Steps)
	}
	apply(dir)
	out, _ := ssh("systemctl is-active " + timer + "; ls /etc/systemd/system/ /etc/etcdform/")
	if !strings.HasPrefix(out, "inactive") || strings.Contains(out, "etcdform-backup") || strings.Contains(out, "backup.env") {
		t.Fatalf("etcd-1 after removing the block:\n%s", out)
	}
	if p, code := plan(dir); code != 0 || len(p.Steps) != 0 {
		t.Fatalf("plan after removing the job: exit %d, %v", code, actions(p))
	}
}
