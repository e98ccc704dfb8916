// Package release fetches etcd release tarballs (etcd's published layout:
// etcd-vVERSION-OS-ARCH.tar.gz holding etcd-vVERSION-OS-ARCH/etcd and
// etcdutl) from a path on this machine or an https URL, checks each against
// its sha256 (given, or from the SHA256SUMS file beside it), and extracts the
// binaries into a content-addressed cache for apply to upload. Publish
// writes such a tarball and its SHA256SUMS from built binaries (the lab's
// install source).
package release

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrChecksum is an artifact whose sha256 is not the one it must have.
var ErrChecksum = errors.New("release: sha256 mismatch")

// MaxTarball bounds the tarball read into memory (etcd's are about 25 MB).
const MaxTarball = 512 << 20

// Spec names one artifact: the expanded source (a local path or an https
// URL), the version it must hold, and its sha256 when the configuration
// gives one ("" to read SHA256SUMS beside it).
type Spec struct {
	Source  string
	Version string // "3.6.16"
	OS      string // "linux"
	Arch    string // "amd64"
	SHA256  string
}

// Options tune Fetch.
type Options struct {
	// CacheDir receives the extracted binaries, named by their sha256.
	CacheDir string
	// Client fetches https sources (http.DefaultClient with a 5-minute
	// timeout when nil).
	Client *http.Client
}

// Artifact is a checked tarball and its extracted binaries.
type Artifact struct {
	Source string
	SHA256 string // the tarball's, checked
	// SumFrom says where the expected sha256 came from: "the
	// configuration" or the SHA256SUMS file's location.
	SumFrom string
	Etcd    Binary
	Etcdutl Binary
}

// Binary is one extracted binary in the cache.
type Binary struct {
	Path   string
	SHA256 string
	Size   int64
}

// Dir is the directory in a tarball that holds the binaries:
// "etcd-v3.6.16-linux-amd64".
func Dir(version, goos, arch string) string {
	return fmt.Sprintf("etcd-v%s-%s-%s", strings.TrimPrefix(version, "v"), goos, arch)
}

// Fetch reads the tarball s names, checks its sha256, and extracts etcd and
// etcdutl into opts.CacheDir. A sha256 that differs is an error wrapping
// ErrChecksum naming both sums; nothing is extracted then.
func Fetch(ctx context.Context, s Spec, opts Options) (*Artifact, error) {
	if opts.CacheDir == "" {
		return nil, errors.New("release: no cache directory")
	}
	data, err := read(ctx, s.Source, opts)
	if err != nil {
		return nil, fmt.Errorf("release: reading %s: %w", s.Source, err)
	}
	a := &Artifact{Source: s.Source, SHA256: sum(data), SumFrom: "the configuration"}
	want := s.SHA256
	if want == "" {
		sums := sibling(s.Source, "SHA256SUMS")
		a.SumFrom = sums
		b, err := read(ctx, sums, opts)
		if err != nil {
			return nil, fmt.Errorf("release: %s has no sha256 in the configuration, and its SHA256SUMS cannot be read: %w", s.Source, err)
		}
		if want, err = lookup(b, base(s.Source)); err != nil {
			return nil, fmt.Errorf("release: %s: %w", sums, err)
		}
	}
	if a.SHA256 != want {
		return nil, fmt.Errorf("%w: %s has sha256 %s, %s says %s; it is not installed", ErrChecksum, s.Source, a.SHA256, a.SumFrom, want)
	}
	if err := extract(data, s, opts.CacheDir, a); err != nil {
		return nil, fmt.Errorf("release: %s: %w", s.Source, err)
	}
	return a, nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "https://") }

// sibling is the file name beside source (same directory or URL path).
func sibling(source, name string) string {
	if isURL(source) {
		u, err := url.Parse(source)
		if err != nil {
			return source + "/../" + name
		}
		u.Path = path.Join(path.Dir(u.Path), name)
		return u.String()
	}
	return filepath.Join(filepath.Dir(source), name)
}

func base(source string) string {
	if isURL(source) {
		if u, err := url.Parse(source); err == nil {
			return path.Base(u.Path)
		}
	}
	return filepath.Base(source)
}

// read returns the bytes of a local file or an https URL, at most
// MaxTarball of them.
func read(ctx context.Context, source string, opts Options) ([]byte, error) {
	var r io.Reader
	if isURL(source) {
		c := opts.Client
		if c == nil {
			c = &http.Client{Timeout: 5 * time.Minute}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", source, resp.Status)
		}
		r = resp.Body
	} else {
		f, err := os.Open(source)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxTarball+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxTarball {
		return nil, fmt.Errorf("larger than %d MiB", MaxTarball>>20)
	}
	return data, nil
}

// lookup finds name's sum in a SHA256SUMS file (sha256sum's output:
// "HEX  NAME" or "HEX *NAME").
func lookup(sums []byte, name string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == name {
			h := strings.ToLower(f[0])
			if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
				return "", fmt.Errorf("the line for %s holds no sha256", name)
			}
			return h, nil
		}
	}
	return "", fmt.Errorf("no line for %s", name)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// extract writes DIR/etcd and DIR/etcdutl of the tarball into cacheDir as
// sha256-HEX files (mode 0755), each through a temp file and a rename.
func extract(data []byte, s Spec, cacheDir string, a *Artifact) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a gzip tarball: %w", err)
	}
	dir := Dir(s.Version, s.OS, s.Arch)
	want := map[string]*Binary{dir + "/etcd": &a.Etcd, dir + "/etcdutl": &a.Etcdutl}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the tarball: %w", err)
		}
		b := want[strings.TrimPrefix(h.Name, "./")]
		if b == nil || h.Typeflag != tar.TypeReg {
			continue
		}
		if err := store(tr, cacheDir, b); err != nil {
			return err
		}
	}
	for name, b := range want {
		if b.Path == "" {
			return fmt.Errorf("the tarball has no %s (etcd's release layout)", name)
		}
	}
	return nil
}

func store(r io.Reader, cacheDir string, b *Binary) error {
	tmp, err := os.CreateTemp(cacheDir, ".extract-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	b.SHA256, b.Size = hex.EncodeToString(h.Sum(nil)), n
	b.Path = filepath.Join(cacheDir, "sha256-"+b.SHA256)
	return os.Rename(tmp.Name(), b.Path)
}

// Publish writes the tarball of version for goos/arch into dir, in etcd's
// layout, from the binaries etcd and etcdutl, and adds its line to
// dir/SHA256SUMS (replacing an older line for the same file). The tarball
// is the same bytes for the same binaries. It returns the tarball's path.
func Publish(dir, version, goos, arch, etcd, etcdutl string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := Dir(version, goos, arch)
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(zw)
	epoch := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
		return "", err
	}
	for _, f := range [][2]string{{"etcd", etcd}, {"etcdutl", etcdutl}} {
		data, err := os.ReadFile(f[1])
		if err != nil {
			return "", err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name + "/" + f[0], Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return "", err
		}
		if _, err := tw.Write(data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	tarball := filepath.Join(dir, name+".tar.gz")
	if err := writeAtomic(tarball, buf.Bytes()); err != nil {
		return "", err
	}
	sumsFile := filepath.Join(dir, "SHA256SUMS")
	lines := map[string]string{}
	if old, err := os.ReadFile(sumsFile); err == nil {
		for _, l := range strings.Split(string(old), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				lines[strings.TrimPrefix(f[1], "*")] = f[0]
			}
		}
	}
	lines[name+".tar.gz"] = sum(buf.Bytes())
	var names []string
	for n := range lines {
		names = append(names, n)
	}
	sort.Strings(names)
	var out strings.Builder
	for _, n := range names {
		fmt.Fprintf(&out, "%s  %s\n", lines[n], n)
	}
	return tarball, writeAtomic(sumsFile, []byte(out.String()))
}

func writeAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
