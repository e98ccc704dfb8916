package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/providers/backupstore/s3test"
)

// restorePlanJSON is what the restore test reads of plan --json.
type restorePlanJSON struct {
	RestoreFrom string `json:"restore_from"`
	Steps       []struct {
		Action string `json:"action"`
		Member string `json:"member"`
		Backup *struct {
			ID         string `json:"id"`
			Object     string `json:"object"`
			SHA256     string `json:"sha256"`
			Revision   int64  `json:"revision"`
			KeyCount   int64  `json:"key_count"`
			AgeSeconds int64  `json:"age_seconds"`
		} `json:"backup"`
	} `json:"steps"`
	Warnings []struct{ Summary, Detail string } `json:"warnings"`
	Refusals []struct{ Summary, Detail string } `json:"refusals"`
}

// TestTotalLossRestoreE2E (issue 16 #3, acceptance "Total loss"): a lab
// backed up to the lab's S3 server (backup run), a key written after the
// backup, then every member killed and every data dir (and config)
// emptied.
//   - A plain plan refuses to create the cluster empty and names
//     `plan --restore-from latest`.
//   - plan --restore-from latest shows the snapshot's revision, key
//     count and age and says which writes are lost.
//   - apply with a wrong identity, and with a tampered object, stops
//     before any host is touched (data and config dirs still empty).
//   - apply with the identity gives a healthy 3-member cluster with a
//     new cluster ID, whose key count at the restored revision equals the
//     backup record's; the post-backup key is absent; the revision is
//     bumped; a second plan is empty.
//   - A restore of the running cluster is refused, even with
//     --restore-over-data.
//   - Killed again with its data intact, the cluster's restore is refused
//     without --restore-over-data; with it, every old member/ is kept
//     aside and the cluster is back at the backup.
func TestTotalLossRestoreE2E(t *testing.T) {
	b := upBackupLab(t, lab.Options{Members: 3})
	b.startS3(t)
	st, srv := b.st, b.srv
	dir := config(t, st, b.block(backupBlock{}))
	idFile := filepath.Join(t.TempDir(), "backup.agekey")
	if err := os.WriteFile(idFile, []byte(b.id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := s3Env
	noSecret := func(outs ...string) {
		t.Helper()
		for _, o := range outs {
			if strings.Contains(o, b.id.String()) || strings.Contains(o, s3test.SecretKey) {
				t.Fatal("a secret (the age identity or the S3 secret key) was printed")
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	// The backup job on etcd-1, so that the plan after the restore has
	// nothing left to do (apply runs it once: a first backup).
	if _, _, code := cliEnv(t, env, applyArgs(t, dir)...); code != 0 {
		t.Fatalf("apply of the backup block: exit %d", code)
	}
	c := etcdClient(t, st)
	for i := range 50 {
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/pods/p%02d", i), "before-the-backup"); err != nil {
			t.Fatal(err)
		}
	}
	ml, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldCluster := ml.Header.ClusterId
	if o, e, code := cliEnv(t, env, "backup", "run", dir); code != 0 {
		t.Fatalf("backup run: exit %d", code)
	} else {
		noSecret(o, e)
	}
	o, _, code := cliEnv(t, env, "backup", "list", "--json", dir)
	var list []struct {
		ID       string `json:"id"`
		Object   string `json:"object"`
		Revision int64  `json:"revision"`
		KeyCount int64  `json:"key_count"`
	}
	if code != 0 || json.Unmarshal([]byte(o), &list) != nil || len(list) < 2 {
		t.Fatalf("backup list: exit %d, %s", code, o)
	}
	rec := list[len(list)-1]
	live, err := c.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if rec.KeyCount != live.Count || rec.KeyCount < 50 {
		t.Fatalf("the backup records %d keys, the cluster holds %d", rec.KeyCount, live.Count)
	}
	if _, err := c.Put(ctx, "/after-backup", "lost"); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Total loss.
	for _, h := range st.Members() {
		wipe(t, st, h)
	}
	untouched := func() {
		t.Helper()
		for _, h := range st.Members() {
			for _, d := range []string{"var-lib-etcd", "etc-etcd"} {
				if es, err := os.ReadDir(filepath.Join(h.Root, d)); err != nil || len(es) != 0 {
					t.Fatalf("%s's %s was touched: %v %v", h.Name, d, es, err)
				}
			}
		}
	}

	// A plain plan does not create the cluster empty.
	o, e, code := cliEnv(t, env, "plan", "--json", dir)
	var pp restorePlanJSON
	if code != 1 || json.Unmarshal([]byte(o), &pp) != nil || len(pp.Refusals) != 1 || pp.Refusals[0].Summary != "Backups of this cluster exist" ||
		!strings.Contains(pp.Refusals[0].Detail, "etcdform plan --restore-from latest") || len(pp.Steps) != 0 {
		t.Fatalf("plain plan after the total loss: exit %d, %s%s", code, o, e)
	}

	// The restore plan: what it restores and what is lost.
	pf := filepath.Join(t.TempDir(), "restore.plan")
	o, e, code = cliEnv(t, env, "plan", "--restore-from", "latest", "--detailed-exitcode", "--out", pf, dir)
	noSecret(o, e)
	for _, want := range []string{
		fmt.Sprintf("revision %d, %d keys", rec.Revision, rec.KeyCount),
		fmt.Sprintf("DATA LOSS: keys written after revision %d (the backup's, taken at", rec.Revision),
		"old when planned) are lost",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("plan --restore-from latest does not say %q", want)
		}
	}
	if code != 2 {
		t.Fatalf("plan --restore-from latest: exit %d, want 2", code)
	}
	// The runbook for the person on call (show --markdown): the data
	// loss in bold, then every step.
	if md, _, code := cli(t, "show", "--markdown", pf); code != 0 || !strings.Contains(md, "Recovery runbook: cluster lab") ||
		!strings.Contains(md, fmt.Sprintf("keys written after revision %d", rec.Revision)) || !strings.Contains(md, "fetch-backup") {
		t.Errorf("show --markdown of the restore plan: exit %d, no runbook with the data loss and the steps", code)
	}
	o, _, _ = cli(t, "show", "--json", pf)
	var rp restorePlanJSON
	if err := json.Unmarshal([]byte(o), &rp); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range st.Members() {
		names = append(names, h.Name)
	}
	want := []string{"fetch-backup"}
	for _, a := range []string{"stop-member", "restore-member", "bootstrap-start"} {
		for _, n := range names {
			want = append(want, a+" "+n)
		}
	}
	var got []string
	for _, s := range rp.Steps {
		got = append(got, strings.TrimSpace(s.Action+" "+s.Member))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("restore steps (-want +got):\n%s", diff)
	}
	fb := rp.Steps[0].Backup
	if rp.RestoreFrom != rec.ID || fb == nil || fb.ID != rec.ID || fb.Revision != rec.Revision || fb.KeyCount != rec.KeyCount || fb.AgeSeconds < 0 {
		t.Fatalf("the plan restores %q, backup %+v; the newest record is %+v", rp.RestoreFrom, fb, rec)
	}

	// A wrong identity, and a tampered object: nothing is touched.
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.agekey")
	if err := os.WriteFile(otherFile, []byte(other.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, e, code = cliEnv(t, env, applyArgs(t, "--identity", otherFile, pf)...)
	if code != 1 || !strings.Contains(e, "does not match the recipient") {
		t.Fatalf("apply with a wrong identity: exit %d, stderr %q", code, e)
	}
	untouched()
	_, e, code = cliEnv(t, env, applyArgs(t, pf)...)
	if code != 1 || !strings.Contains(e, "give the age identity") {
		t.Fatalf("apply without an identity: exit %d, stderr %q", code, e)
	}
	untouched()
	obj := "lab/" + fb.Object
	orig, err := io.ReadAll(must(srv.Client().GetObject(ctx, "backups", obj, minio.GetObjectOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	put := func(data []byte) {
		t.Helper()
		if _, err := srv.Client().PutObject(ctx, "backups", obj, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tampered := bytes.Clone(orig)
	tampered[len(tampered)-100] ^= 1
	put(tampered)
	_, e, code = cliEnv(t, env, applyArgs(t, "--identity", idFile, pf)...)
	if code != 1 || !strings.Contains(e, "snapshot is corrupted or truncated") || !strings.Contains(e, "no member was touched") {
		t.Fatalf("apply of a tampered object: exit %d, stderr %q", code, e)
	}
	untouched()
	put(orig)

	// The restore, with the identity from the environment this time.
	o, e, code = cliEnv(t, append(env, plan.IdentityEnv+"="+b.id.String()), applyArgs(t, pf)...)
	noSecret(o, e)
	if code != 0 {
		t.Fatalf("apply of the restore: exit %d", code)
	}
	c = etcdClient(t, st)
	checkRestored := func(what string, gone ...string) {
		t.Helper()
		ml, err := c.MemberList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ml.Members) != 3 {
			t.Errorf("%s: %d members, want 3", what, len(ml.Members))
		}
		for _, m := range ml.Members {
			if m.IsLearner {
				t.Errorf("%s: %s is a learner", what, m.Name)
			}
		}
		if ml.Header.ClusterId == oldCluster {
			t.Errorf("%s: the cluster ID is still %x", what, oldCluster)
		}
		restored := rec.Revision + plan.RecoverBumpRevision
		at, err := c.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly(), clientv3.WithRev(restored))
		if err != nil {
			t.Fatalf("%s: counting keys at the restored revision %d: %v", what, restored, err)
		}
		now, err := c.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithKeysOnly())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d keys at revision %d (the backup's %d + %d), the backup records %d; %d keys now at revision %d", what, at.Count, restored, rec.Revision, plan.RecoverBumpRevision, rec.KeyCount, now.Count, now.Header.Revision)
		if at.Count != rec.KeyCount {
			t.Errorf("%s: %d keys at the restored revision, the backup records %d", what, at.Count, rec.KeyCount)
		}
		for _, kv := range now.Kvs {
			if kv.ModRevision > restored && !strings.HasPrefix(string(kv.Key), "/etcdform/") {
				t.Errorf("%s: key %s written after the restore", what, kv.Key)
			}
			for _, g := range gone {
				if string(kv.Key) == g {
					t.Errorf("%s: %s, written after the backup, is there", what, g)
				}
			}
		}
	}
	checkRestored("after the restore", "/after-backup")
	if p, code := planAsJSONEnv(t, env, dir); code != 0 {
		t.Errorf("plan after the restore: exit %d, steps %v, refusals %v; want no changes", code, actions(p), p.Refusals)
	}

	// A running cluster is not rolled back.
	o, _, code = cliEnv(t, env, "plan", "--json", "--restore-from", "latest", "--restore-over-data", dir)
	pp = restorePlanJSON{}
	if code != 1 || json.Unmarshal([]byte(o), &pp) != nil || len(pp.Refusals) != 1 || pp.Refusals[0].Summary != "Cluster is running" || len(pp.Steps) != 0 {
		t.Fatalf("restore of the running cluster: exit %d, %s", code, o)
	}

	// Killed with its data intact: refused without --restore-over-data;
	// with it, the old data is moved aside and kept.
	if _, err := c.Put(ctx, "/after-restore", "lost too"); err != nil {
		t.Fatal(err)
	}
	if ml, err = c.MemberList(ctx); err != nil {
		t.Fatal(err)
	}
	oldCluster = ml.Header.ClusterId // the first restore's
	c.Close()
	for _, h := range st.Members() {
		if err := st.Fault(ctx, lab.FaultKill, h.Name); err != nil {
			t.Fatal(err)
		}
	}
	o, _, code = cliEnv(t, env, "plan", "--json", "--restore-from", rec.ID, dir)
	pp = restorePlanJSON{}
	if code != 1 || json.Unmarshal([]byte(o), &pp) != nil || len(pp.Refusals) != 1 || pp.Refusals[0].Summary != "Data dirs hold data" ||
		!strings.Contains(pp.Refusals[0].Detail, "--restore-over-data") {
		t.Fatalf("restore over data without --restore-over-data: exit %d, %s", code, o)
	}
	pf2 := filepath.Join(t.TempDir(), "restore2.plan")
	if _, _, code := cliEnv(t, env, "plan", "--restore-from", rec.ID, "--restore-over-data", "--out", pf2, dir); code != 0 {
		t.Fatalf("plan --restore-over-data: exit %d", code)
	}
	if _, _, code := cliEnv(t, env, applyArgs(t, "--identity", idFile, pf2)...); code != 0 {
		t.Fatalf("apply of the restore over data: exit %d", code)
	}
	for _, h := range st.Members() {
		aside, _ := filepath.Glob(filepath.Join(h.Root, "var-lib-etcd", apply.AsidePrefix+"*", "snap", "db"))
		if len(aside) != 1 {
			t.Errorf("%s: the old data is not kept aside: %v", h.Name, aside)
		}
	}
	c = etcdClient(t, st)
	checkRestored("after the restore over data", "/after-backup", "/after-restore")
	if p, code := planAsJSONEnv(t, env, dir); code != 0 {
		t.Errorf("plan after the second restore: exit %d, steps %v, refusals %v; want no changes", code, actions(p), p.Refusals)
	}
}

// TestTotalLossRestoreTLSSystemdE2E: the total-loss restore of
// TestTotalLossRestoreE2E on a lab whose members run under systemd and
// talk TLS, and whose hosts lost their certificates and keys with their
// data and config: plan --restore-from latest uploads the files from their
// sources before the members start, and apply gives a healthy 3-member
// cluster holding the backup's keys, whose second plan is empty.
func TestTotalLossRestoreTLSSystemdE2E(t *testing.T) {
	b := upBackupLab(t, lab.Options{Members: 3, TLS: true, Init: lab.InitSystemd})
	b.startS3(t)
	st := b.st
	src := tlsSources(t, st)
	block := b.block(backupBlock{})
	dir := config(t, st, func(s string) string { return block(withSources(src)(s)) })
	env := s3Env
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if _, _, code := cliEnv(t, env, applyArgs(t, dir)...); code != 0 {
		t.Fatalf("apply of the backup block: exit %d", code)
	}
	c := etcdClient(t, st)
	for i := range 20 {
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/pods/p%02d", i), "before-the-backup"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, code := cliEnv(t, env, "backup", "run", dir); code != 0 {
		t.Fatalf("backup run: exit %d", code)
	}
	live, err := c.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, h := range st.Members() {
		wipe(t, st, h)
		if _, err := os.Stat(h.HostPKIPath("")); !os.IsNotExist(err) {
			t.Fatalf("%s still has its pki dir after the wipe: %v", h.Name, err)
		}
	}

	pf := filepath.Join(t.TempDir(), "restore.plan")
	if o, e, code := cliEnv(t, env, "plan", "--restore-from", "latest", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		t.Fatalf("plan --restore-from latest: exit %d\n%s%s", code, o, e)
	}
	o, _, _ := cli(t, "show", "--json", pf)
	var rp restorePlanJSON
	if err := json.Unmarshal([]byte(o), &rp); err != nil {
		t.Fatal(err)
	}
	// Each member's files go up before that member starts.
	var steps, names []string
	for _, s := range rp.Steps {
		steps = append(steps, strings.TrimSpace(s.Action+" "+s.Member))
	}
	for _, h := range st.Members() {
		names = append(names, h.Name)
	}
	uploadsBeforeStarts(t, steps, names)
	if t.Failed() {
		t.FailNow()
	}
	if _, e, code := cliEnv(t, append(env, plan.IdentityEnv+"="+b.id.String()), applyArgs(t, pf)...); code != 0 {
		t.Fatalf("apply of the restore: exit %d\n%s", code, e)
	}
	c = etcdClient(t, st)
	ml, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 3 {
		t.Errorf("%d members after the restore, want 3", len(ml.Members))
	}
	got, err := c.Get(ctx, "/registry/pods/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 20 || live.Count < 20 {
		t.Errorf("%d pods after the restore, want the backup's 20 (the cluster held %d keys at the backup)", got.Count, live.Count)
	}
	if p, code := planAsJSONEnv(t, env, dir); code != 0 {
		t.Errorf("plan after the restore: exit %d, steps %v, refusals %v; want no changes", code, actions(p), p.Refusals)
	}
}

// TestDataGoneWithoutBackupsE2E: every member is killed and its data dir
// emptied, its config left in place, on a cluster with no backup block. A
// plain plan does not create the cluster again, empty: it refuses (`Cluster
// data gone`), naming each host's config and the way out, and touches
// nothing. With the configs moved aside (as the refusal says), the plan
// creates the cluster anew.
func TestDataGoneWithoutBackupsE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	dir := config(t, st, nil)
	for _, h := range st.Members() {
		killEmptying(t, st, h, "var-lib-etcd")
	}
	o, e, code := cli(t, "plan", "--json", dir)
	var pp restorePlanJSON
	if code != 1 || json.Unmarshal([]byte(o), &pp) != nil || len(pp.Refusals) != 1 || pp.Refusals[0].Summary != "Cluster data gone" || len(pp.Steps) != 0 {
		t.Fatalf("plain plan after every data dir was emptied: exit %d, %s%s", code, o, e)
	}
	for _, h := range st.Members() {
		want := fmt.Sprintf("/etc/etcd/etcd.conf.yml on the host of %s (%s) holds the etcd config of a cluster (initial-cluster-token ", h.Name, h.Addr)
		if !strings.Contains(pp.Refusals[0].Detail, want) {
			t.Errorf("the refusal does not name %s's config (%q):\n%s", h.Name, want, pp.Refusals[0].Detail)
		}
	}
	for _, want := range []string{"etcdform plan --restore-from latest", "move each of those config files aside"} {
		if !strings.Contains(pp.Refusals[0].Detail, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, pp.Refusals[0].Detail)
		}
	}
	for _, h := range st.Members() {
		if es, err := os.ReadDir(filepath.Join(h.Root, "var-lib-etcd")); err != nil || len(es) != 0 {
			t.Fatalf("%s's data dir was touched: %v %v", h.Name, es, err)
		}
		conf := h.Path("/etc/etcd/etcd.conf.yml")
		if err := os.Rename(conf, conf+".old"); err != nil {
			t.Fatal(err)
		}
	}
	o, e, code = cli(t, "plan", "--json", dir)
	pp = restorePlanJSON{}
	if code != 0 || json.Unmarshal([]byte(o), &pp) != nil || len(pp.Refusals) != 0 || len(pp.Steps) == 0 {
		t.Fatalf("plan with the configs moved aside: exit %d, %s%s", code, o, e)
	}
	var starts int
	for _, s := range pp.Steps {
		if s.Action == "bootstrap-start" {
			starts++
		}
	}
	if starts != 3 {
		t.Errorf("plan with the configs moved aside: %d bootstrap-start steps, want 3: %s", starts, o)
	}
}
