package backup

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/providers/backupstore/s3test"
)

func s3Store(t *testing.T, srv *s3test.Server, dest string, partSize uint64) backupstore.Store {
	t.Helper()
	s, err := backupstore.Open(dest, backupstore.Options{Endpoint: srv.Endpoint, Region: "us-east-1", PathStyle: true, Getenv: srv.Getenv, PartSize: partSize, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3RunRetentionAndDrill(t *testing.T) {
	srv := s3test.New(t, "backups")
	f := newFixture(t)
	f.write(t, "/registry/secrets", 40, 3, 100)
	s := s3Store(t, srv, "s3://backups/etcd/main", 0)
	clk := &clock{t: time.Now().UTC(), step: time.Minute}
	j := f.job(t, s)
	j.Now, j.KeepLast = clk.now, 2
	var last backupstore.Meta
	for i := range 4 {
		f.write(t, "/run", i+1, 0, 8)
		res, err := Run(ctxT(t), j)
		if err != nil {
			t.Fatal(err)
		}
		last = res.Meta
	}
	keys := srv.Objects(t, "backups")
	if len(keys) != 4 {
		t.Fatalf("bucket holds %v, want 2 snapshots and their sidecars (keep_last 2)", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "etcd/main/main-") {
			t.Errorf("object %q outside the prefix", k)
		}
	}
	o, err := srv.Client().GetObject(t.Context(), "backups", "etcd/main/"+last.Object, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte(secretValue)) || int64(len(raw)) != last.StoredSize {
		t.Fatalf("S3 object is not the age ciphertext (%d bytes, %d recorded, starts %q)", len(raw), last.StoredSize, raw[:min(24, len(raw))])
	}
	rep, err := Verify(ctxT(t), f.drill(s, ""))
	if err != nil {
		t.Fatal(err)
	}
	// 37 keys left of /registry/secrets, and /run/0000 to /run/0003.
	if rep.Meta.ID != last.ID || rep.KeyCount != 37+4 || len(rep.Problems) > 0 {
		t.Fatalf("drill: %+v", rep)
	}
}

func TestS3ServerStopsDuringUpload(t *testing.T) {
	srv := s3test.New(t, "backups")
	f := newFixture(t)
	f.write(t, "/big", 120, 0, 100<<10) // about 12 MB
	s := s3Store(t, srv, "s3://backups/etcd", 5<<20)
	j := f.job(t, s)
	j.Textfile = filepath.Join(t.TempDir(), "backup.prom")
	var once sync.Once
	stopped := false
	j.UploadProgress = func(n int64) {
		if n > 6<<20 {
			once.Do(func() { srv.Stop(); stopped = true })
		}
	}
	_, err := Run(ctxT(t), j)
	if err == nil {
		t.Fatal("Run succeeded although the S3 server was stopped midway")
	}
	if !stopped {
		t.Fatalf("the upload never passed 6 MiB: %v", err)
	}
	t.Logf("run failed as expected: %v", err)
	met := ReadTextfile(j.Textfile)
	if met[MetricFailures] != 1 || met[MetricLastOK] != 0 {
		t.Fatalf("textfile after a failed upload: %v", met)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Objects(t, "backups"); len(keys) != 0 {
		t.Fatalf("a failed upload left objects: %v", keys)
	}
	if got, _, err := backupstore.List(t.Context(), s); err != nil || len(got) != 0 {
		t.Fatalf("List after failed upload: %v, %v", got, err)
	}
}
