package backupstore

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMetaRoundTrip(t *testing.T) {
	m := Meta{ID: "main-20261122T041500Z-r42", Cluster: "main", Member: "http://10.0.0.1:2379", Time: time.Date(2026, 11, 22, 4, 15, 0, 0, time.UTC),
		Revision: 42, KeyCount: 7, SHA256: "ab", KVHash: 9, Size: 100, StoredSize: 120, Encrypted: true, Recipient: "age1x",
		EtcdVersion: "3.6.0", Object: "main-20261122T041500Z-r42.snap.age", DurationSecs: 1.5}
	b, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	m.Version = MetaVersion
	if diff := cmp.Diff(m, got); diff != "" {
		t.Fatalf("(-written +read)\n%s", diff)
	}
	for name, bad := range map[string]string{
		"other version": strings.Replace(string(b), `"format_version": 1`, `"format_version": 2`, 1),
		"unknown field": strings.Replace(string(b), `"id"`, `"extra": 1, "id"`, 1),
		"bad id":        strings.Replace(string(b), `"id": "main-`, `"id": "../main-`, 1),
	} {
		if _, err := DecodeMeta([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := DecodeMeta([]byte(strings.Replace(string(b), `"format_version": 1`, `"format_version": 2`, 1))); !errors.Is(err, ErrMetaVersion) {
		t.Errorf("other version: %v, want ErrMetaVersion", err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("source broke")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestFileStoreAtomic(t *testing.T) {
	dir := t.TempDir()
	s := NewFileStore(dir)
	ctx := context.Background()
	if _, err := s.Put(ctx, "a.snap", &failingReader{n: 1 << 20}, nil); err == nil {
		t.Fatal("Put of a broken source succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a failed Put left %v", ents)
	}
	var seen int64
	n, err := s.Put(ctx, "a.snap", strings.NewReader("hello"), func(k int64) { seen = k })
	if err != nil || n != 5 || seen != 5 {
		t.Fatalf("Put = %d, %v (progress %d)", n, err, seen)
	}
	rc, err := s.Get(ctx, "a.snap")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Fatalf("Get = %q", b)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v", err)
	}
	for _, bad := range []string{"../x", "a/b", "", ".tmp-x"} {
		if _, err := s.Put(ctx, bad, strings.NewReader(""), nil); err == nil {
			t.Errorf("Put %q accepted", bad)
		}
	}
	if err := s.Delete(ctx, "a.snap"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a.snap"); err != nil {
		t.Fatalf("deleting a missing name: %v", err)
	}
}

func TestOpen(t *testing.T) {
	for dest, ok := range map[string]bool{
		"file:///var/backups/etcd": true, "s3://bucket/prefix": true, "s3://bucket": true,
		"file://host/x": false, "file:relative": false, "s3:///prefix": false, "gs://b/p": false,
	} {
		_, err := Open(dest, Options{})
		if (err == nil) != ok {
			t.Errorf("Open(%q) = %v", dest, err)
		}
	}
	if _, err := Open("s3://b/p", Options{Endpoint: "ftp://x"}); !errors.Is(err, ErrDestination) {
		t.Errorf("ftp endpoint: %v", err)
	}
}
