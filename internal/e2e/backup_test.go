package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/providers/backupstore/s3test"
)

// cliEnv runs the binary with extra environment variables.
func cliEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running etcdform: %v", err)
	}
	t.Logf("$ etcdform %s  => exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
	return o.String(), e.String(), code
}

// withBackup adds a backup block to the cluster.
func withBackup(block string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "  service {", block+"\n  service {", 1)
	}
}

func TestBackupE2E(t *testing.T) {
	b := upBackupLab(t, lab.Options{Members: 3})
	// On the lab bridge: the job that apply installs (and runs once) on
	// etcd-1's host uploads there too.
	b.startS3(t)
	st, srv, id := b.st, b.srv, b.id
	idFile := filepath.Join(t.TempDir(), "backup.agekey")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := config(t, st, b.block(backupBlock{KeepLast: 2}))
	env := s3Env
	textfile := filepath.Join(t.TempDir(), "etcdform_backup.prom")
	secrets := []string{id.String(), s3test.SecretKey}
	noSecrets := func(outs ...string) {
		t.Helper()
		for _, o := range outs {
			for _, s := range secrets {
				if strings.Contains(o, s) {
					t.Fatal("a secret (age identity or S3 secret key) was printed")
				}
			}
		}
	}

	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// Freshness in plan: a record three years old is stale for a yearly
	// schedule; with none at all the plan says so. Both are warnings.
	// (Yearly: the job apply installs must not fire while tests run; it
	// would write to this machine's /var/log and node_exporter directory.)
	old := backupstore.Meta{ID: "lab-old", Cluster: "lab", Time: time.Now().AddDate(-3, 0, 0), Revision: 1, Object: "lab-old.snap.age", Encrypted: true}
	side, err := backupstore.EncodeMeta(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().PutObject(ctx, "backups", "lab/lab-old.json", bytes.NewReader(side), int64(len(side)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if w := planWarnings(t, env, dir); !strings.Contains(w, "Stale backups") {
		t.Fatalf("plan with a 48h-old backup and a 6-hourly schedule warns: %q", w)
	}
	if err := srv.Client().RemoveObject(ctx, "backups", "lab/lab-old.json", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// None at all, but the plan installs the job, which apply runs once.
	if w := planWarnings(t, env, dir); !strings.Contains(w, "No backup yet") {
		t.Fatalf("plan with no backup and a job to install warns: %q", w)
	}
	const marker = "e2e-plaintext-marker"
	var liveKeys int64
	for run := range 3 {
		for i := range 20 {
			if _, err := c.Put(ctx, fmt.Sprintf("/registry/secrets/run%d/%02d", run, i), marker); err != nil {
				t.Fatal(err)
			}
		}
		r, err := c.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		liveKeys = r.Count
		o, e, code := cliEnv(t, env, "backup", "run", "--textfile", textfile, dir)
		noSecrets(o, e)
		if code != 0 || !strings.Contains(o, "encrypted with age") {
			t.Fatalf("backup run %d: exit %d", run, code)
		}
	}
	if w := planWarnings(t, env, dir); strings.Contains(w, "backup") || strings.Contains(w, "Backup") {
		t.Fatalf("plan after fresh backups warns: %q", w)
	}
	keys := srv.Objects(t, "backups")
	if len(keys) != 4 {
		t.Fatalf("bucket after 3 runs with keep_last = 2: %v", keys)
	}
	for _, k := range keys {
		if !strings.HasSuffix(k, ".snap.age") {
			continue
		}
		o, err := srv.Client().GetObject(ctx, "backups", k, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte(marker)) {
			t.Fatalf("object %s is not age ciphertext, or holds plaintext", k)
		}
	}

	o, e, code := cliEnv(t, env, "backup", "list", "--json", dir)
	noSecrets(o, e)
	var list []struct {
		ID        string `json:"id"`
		Revision  int64  `json:"revision"`
		KeyCount  int64  `json:"key_count"`
		Encrypted bool   `json:"encrypted"`
	}
	if code != 0 || json.Unmarshal([]byte(o), &list) != nil || len(list) != 2 || !list[1].Encrypted || list[1].KeyCount != liveKeys {
		t.Fatalf("backup list: exit %d, %+v (want 2 encrypted, the newest with %d keys)", code, list, liveKeys)
	}
	if o, _, code := cliEnv(t, env, "backup", "list", dir); code != 0 || !strings.Contains(o, list[0].ID) || !strings.Contains(o, "2 snapshots at s3://backups/lab") {
		t.Fatalf("human list: exit %d", code)
	}

	// The restore drill: every key written before the newest backup.
	o, e, code = cliEnv(t, env, "backup", "verify", "--latest", "--identity", idFile, "--json", dir)
	noSecrets(o, e)
	var rep struct {
		ID       string   `json:"id"`
		Verified bool     `json:"verified"`
		KeyCount int64    `json:"key_count"`
		KVHash   uint32   `json:"kv_hash"`
		Recorded uint32   `json:"recorded_kv_hash"`
		Problems []string `json:"problems"`
	}
	if code != 0 || json.Unmarshal([]byte(o), &rep) != nil || !rep.Verified || rep.ID != list[1].ID || rep.KeyCount != liveKeys || rep.KVHash == 0 || rep.KVHash != rep.Recorded {
		t.Fatalf("backup verify: exit %d, %+v (want %d keys)", code, rep, liveKeys)
	}

	// A truncated and a corrupted object: exit 1 and a clear message.
	obj := "lab/" + list[0].ID + ".snap.age"
	orig, err := io.ReadAll(must(srv.Client().GetObject(ctx, "backups", obj, minio.GetObjectOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(orig)
	flipped[len(flipped)-100] ^= 1
	for name, damaged := range map[string][]byte{"truncated": orig[:len(orig)/2], "corrupted": flipped} {
		if _, err := srv.Client().PutObject(ctx, "backups", obj, bytes.NewReader(damaged), int64(len(damaged)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		_, e, code := cliEnv(t, env, "backup", "verify", "--snapshot", list[0].ID, "--identity", idFile, dir)
		if code != 1 || !strings.Contains(e, "snapshot is corrupted or truncated") {
			t.Fatalf("verify of a %s snapshot: exit %d, stderr %q", name, code, e)
		}
	}

	// A risky apply takes its pre-change snapshot through the same job,
	// into the cluster's destination (holding apply's own lock key too).
	// The same apply installs the job on etcd-1's host, uploads the S3
	// credentials there (0600) and runs the job once: keep_last = 2 keeps
	// the pre-change snapshot and that run's.
	risky := withStorage("4GiB")(readConfig(t, dir))
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(risky), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, code := cliEnv(t, env, "apply", "--auto-approve", dir); code != 0 {
		t.Fatalf("apply of a quota change: exit %d", code)
	}
	o, _, code = cliEnv(t, env, "backup", "list", "--json", dir)
	var after []struct {
		ID       string `json:"id"`
		KeyCount int64  `json:"key_count"`
	}
	if code != 0 || json.Unmarshal([]byte(o), &after) != nil || len(after) != 2 || after[0].ID == list[1].ID || after[0].KeyCount < liveKeys || after[1].KeyCount < liveKeys {
		t.Fatalf("after apply: exit %d, %+v; want the pre-change backup and the job's first run, both newer than %s", code, after, list[1].ID)
	}
	h1 := st.Members()[0]
	if b, err := os.ReadFile(h1.Path("/etc/etcdform/backup.env")); err != nil || string(b) != s3Credentials {
		t.Fatalf("credentials on etcd-1's host: %v", err)
	}
	if st, err := os.Stat(h1.Path("/etc/etcdform/backup.env")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode: %v %v", err, st)
	}

	// S3 down: exit 1, the failure counted, nothing new in the bucket.
	srv.Stop()
	_, e, code = cliEnv(t, env, "backup", "run", "--textfile", textfile, dir)
	if code != 1 {
		t.Fatalf("backup run with S3 stopped: exit %d", code)
	}
	failedRunLeftNothing(t, srv, textfile, 4)

	// No backup at all, and the installed job would not make one in this
	// apply: plan refuses.
	for _, k := range srv.Objects(t, "backups") {
		if err := srv.Client().RemoveObject(ctx, "backups", k, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	o, _, code = cliEnv(t, env, "plan", "--json", dir)
	var p planJSON
	if err := json.Unmarshal([]byte(o), &p); err != nil || code != 1 || len(p.Refusals) != 1 || p.Refusals[0].Summary != "No backup" {
		t.Fatalf("plan with an empty destination: exit %d, %v, refusals %+v", code, err, p.Refusals)
	}
}

// planWarnings runs plan --json and returns its warnings' summaries.
func planWarnings(t *testing.T, env []string, dir string) string {
	t.Helper()
	out, _, code := cliEnv(t, env, "plan", "--json", dir)
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil || code != 0 {
		t.Fatalf("plan --json: exit %d, %v", code, err)
	}
	var s []string
	for _, w := range p.Warnings {
		s = append(s, w.Summary)
	}
	return strings.Join(s, "; ")
}

func readConfig(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "main.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestBackupS3StopsMidRun: the S3 server is killed while a run is
// uploading (a multipart upload is in progress): the run exits 1, counts
// the failure in its textfile, and the bucket holds no object of it.
func TestBackupS3StopsMidRun(t *testing.T) {
	b := upBackupLab(t, lab.Options{Members: 1})
	b.srv = s3test.New(t, "backups") // only etcdform here reaches it, with s3Env's keys
	st, srv := b.st, b.srv
	dir := config(t, st, b.block(backupBlock{}))
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// About 48 MiB, so the upload spans several 16 MiB parts.
	val := strings.Repeat("x", 1<<20)
	for i := range 48 {
		if _, err := c.Put(ctx, fmt.Sprintf("/big/%02d", i), val); err != nil {
			t.Fatal(err)
		}
	}
	textfile := filepath.Join(t.TempDir(), "etcdform_backup.prom")
	cmd := exec.Command(binary, "backup", "run", "--textfile", textfile, dir)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), s3Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait for the multipart upload to be under way, then kill the server.
	uploading := func() bool {
		for u := range srv.Client().ListIncompleteUploads(ctx, "backups", "lab/", true) {
			if u.Err == nil && strings.HasSuffix(u.Key, ".snap.age") {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(time.Minute)
	for !uploading() {
		select {
		case err := <-done:
			t.Fatalf("the run ended (%v) before its upload was seen in progress:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload in progress within a minute")
		}
	}
	srv.Stop()
	var code int
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	case <-ctx.Done():
		t.Fatal("the run did not end after the S3 server stopped")
	}
	t.Logf("backup run => exit %d\n%s", code, out.String())
	if code != 1 {
		t.Fatalf("backup run with S3 killed mid-upload: exit %d", code)
	}
	failedRunLeftNothing(t, srv, textfile, 0)
}

// s3Env gives etcdform, where it runs, the test S3 server's keys.
var s3Env = []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey}

// s3Credentials is an environment file with the test S3 server's keys,
// the form s3.credentials_source takes.
const s3Credentials = "AWS_ACCESS_KEY_ID=" + s3test.AccessKey + "\nAWS_SECRET_ACCESS_KEY=" + s3test.SecretKey + "\n"

// s3CredentialsFile writes s3Credentials to a private file and returns
// its path.
func s3CredentialsFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "backup.env")
	if err := os.WriteFile(p, []byte(s3Credentials), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// failedRunLeftNothing checks what a run that failed because the S3
// server stopped leaves behind: the failure counted in its textfile and,
// with the server started again, the bucket holding objects keys, as
// before the run.
func failedRunLeftNothing(t *testing.T, srv *s3test.Server, textfile string, objects int) {
	t.Helper()
	prom, _ := os.ReadFile(textfile)
	if !strings.Contains(string(prom), `etcdform_backup_failures_total{cluster="lab"} 1`+"\n") ||
		!strings.Contains(string(prom), `etcdform_backup_last_run_success{cluster="lab"} 0`+"\n") {
		t.Fatalf("textfile after a failed run:\n%s", prom)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if after := srv.Objects(t, "backups"); len(after) != objects {
		t.Fatalf("a failed run changed the bucket (want %d objects): %v", objects, after)
	}
}
