package release

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// publish writes a release of two small fake binaries into a fresh
// directory and returns the tarball's path.
func publish(t *testing.T) (tarball string, etcd, etcdutl []byte) {
	t.Helper()
	src := t.TempDir()
	etcd, etcdutl = []byte("#!/bin/sh\necho etcd\n"), []byte("#!/bin/sh\necho etcdutl\n")
	for n, b := range map[string][]byte{"etcd": etcd, "etcdutl": etcdutl} {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tarball, err := Publish(filepath.Join(t.TempDir(), "v3.6.16"), "3.6.16", "linux", "amd64", filepath.Join(src, "etcd"), filepath.Join(src, "etcdutl"))
	if err != nil {
		t.Fatal(err)
	}
	return tarball, etcd, etcdutl
}

var spec = Spec{Version: "3.6.16", OS: "linux", Arch: "amd64"}

// TestFetchLocal: a published release fetched from its path is checked
// against SHA256SUMS beside it and extracted, content-addressed.
func TestFetchLocal(t *testing.T) {
	tarball, etcd, etcdutl := publish(t)
	s := spec
	s.Source = tarball
	a, err := Fetch(context.Background(), s, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(a.SumFrom, "SHA256SUMS") {
		t.Errorf("SumFrom = %q, want the SHA256SUMS file", a.SumFrom)
	}
	for _, c := range []struct {
		b    Binary
		want []byte
	}{{a.Etcd, etcd}, {a.Etcdutl, etcdutl}} {
		got, err := os.ReadFile(c.b.Path)
		if err != nil || !bytes.Equal(got, c.want) || filepath.Base(c.b.Path) != "sha256-"+c.b.SHA256 || c.b.Size != int64(len(c.want)) {
			t.Errorf("extracted %+v holds %q (%v), want %q", c.b, got, err, c.want)
		}
		if st, _ := os.Stat(c.b.Path); st == nil || st.Mode().Perm() != 0o755 {
			t.Errorf("%s is not mode 0755", c.b.Path)
		}
	}
	// The same binaries publish the same bytes (a stable sha256).
	again, _, _ := publish(t)
	b1, _ := os.ReadFile(tarball)
	b2, _ := os.ReadFile(again)
	if !bytes.Equal(b1, b2) {
		t.Error("publishing the same binaries twice gave different tarballs")
	}
}

// TestFetchRefusesTampered: a tarball changed after its SHA256SUMS was
// written, and a sha256 in the configuration that is not the tarball's,
// are refused with ErrChecksum and nothing is extracted.
func TestFetchRefusesTampered(t *testing.T) {
	tarball, _, _ := publish(t)
	good, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(t *testing.T) Spec{
		"tarball changed": func(t *testing.T) Spec {
			bad := append(bytes.Clone(good), 0)
			if err := os.WriteFile(tarball, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.WriteFile(tarball, good, 0o644) })
			s := spec
			s.Source = tarball
			return s
		},
		"wrong sha256 in the configuration": func(t *testing.T) Spec {
			s := spec
			s.Source, s.SHA256 = tarball, strings.Repeat("0", 64)
			return s
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			_, err := Fetch(context.Background(), mk(t), Options{CacheDir: cache})
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("err = %v, want ErrChecksum", err)
			}
			if entries, _ := os.ReadDir(cache); len(entries) != 0 {
				t.Errorf("the cache holds %d entries after a refused artifact", len(entries))
			}
		})
	}
}

// TestFetchHTTPS fetches a release and its SHA256SUMS from an https server
// on loopback, and refuses a tarball without etcd's layout.
func TestFetchHTTPS(t *testing.T) {
	tarball, etcd, _ := publish(t)
	srv := httptest.NewTLSServer(http.StripPrefix("/download/v3.6.16/", http.FileServer(http.Dir(filepath.Dir(tarball)))))
	defer srv.Close()
	s := spec
	s.Source = srv.URL + "/download/v3.6.16/" + filepath.Base(tarball)
	a, err := Fetch(context.Background(), s, Options{CacheDir: t.TempDir(), Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(a.Etcd.Path); !bytes.Equal(got, etcd) {
		t.Errorf("etcd = %q", got)
	}
	if a.SumFrom != srv.URL+"/download/v3.6.16/SHA256SUMS" {
		t.Errorf("SumFrom = %q", a.SumFrom)
	}
	s.Version = "3.6.15" // the tarball holds etcd-v3.6.16-linux-amd64/
	s.SHA256 = a.SHA256
	if _, err := Fetch(context.Background(), s, Options{CacheDir: t.TempDir(), Client: srv.Client()}); err == nil || !strings.Contains(err.Error(), "has no etcd-v3.6.15-linux-amd64/") {
		t.Errorf("err = %v, want the missing layout named", err)
	}
}
