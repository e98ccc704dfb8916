// Package etcdbin builds and caches real etcd and etcdutl binaries (and, for
// the benchmarks' baselines, etcdctl: EnsureEtcdctl) from the
// go.etcd.io/etcd modules at a pinned version. The build module lives in
// internal/etcdbuild (a separate Go module, so the product's go.mod stays
// clean). Binaries are cached per version under the user cache directory;
// the first build takes a few minutes on 2 cores, later calls return at once.
package etcdbin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/etcdform/etcdform/internal/release"
)

// DefaultVersion is the etcd version pinned in internal/etcdbuild/go.mod.
const DefaultVersion = "3.6.16"

// Binaries are the paths of a cached build.
type Binaries struct {
	Version string
	Etcd    string
	Etcdutl string
}

var mu sync.Mutex

// versionRe is a release version x.y.z with an optional semver
// pre-release (3.6.0-rc.1); the optional "v" is removed before matching.
var versionRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// CheckVersion reports whether v (with or without a leading "v") is an etcd
// version the cache can hold: x.y.z or x.y.z-pre. Anything else (a path such
// as ../../tmp) is refused before it names a directory.
func CheckVersion(v string) error {
	if len(v) > 64 || !versionRe.MatchString(strings.TrimPrefix(v, "v")) {
		return fmt.Errorf("etcdbin: etcd version %q is not a version such as %s or 3.6.0-rc.1", v, DefaultVersion)
	}
	return nil
}

// CacheDir returns where binaries of version v are cached:
// $ETCDFORM_CACHE or $XDG_CACHE_HOME/etcdform or ~/.cache/etcdform.
// v must pass CheckVersion.
func CacheDir(v string) (string, error) {
	if err := CheckVersion(v); err != nil {
		return "", err
	}
	base, err := CacheBase()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "etcd", "v"+strings.TrimPrefix(v, "v")), nil
}

// CacheBase returns etcdform's cache directory: $ETCDFORM_CACHE or
// $XDG_CACHE_HOME/etcdform or ~/.cache/etcdform.
func CacheBase() (string, error) {
	base := os.Getenv("ETCDFORM_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("etcdbin: no cache directory: %w", err)
		}
		base = filepath.Join(c, "etcdform")
	}
	return base, nil
}

// Built lists the versions whose binaries are in the cache, in no
// particular order.
func Built() []string {
	base, err := CacheBase()
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir(filepath.Join(base, "etcd"))
	var out []string
	for _, e := range entries {
		v := strings.TrimPrefix(e.Name(), "v")
		dir := filepath.Join(base, "etcd", e.Name())
		if e.IsDir() && CheckVersion(v) == nil && exists(filepath.Join(dir, "etcd")) && exists(filepath.Join(dir, "etcdutl")) {
			out = append(out, v)
		}
	}
	return out
}

// ReleaseSource is the install source template (schema.Install.Source)
// that serves the releases Publish writes: a path under the cache,
// RELEASES/v{version}/etcd-v{version}-{os}-{arch}.tar.gz, with a
// SHA256SUMS beside each tarball.
func ReleaseSource() (string, error) {
	base, err := CacheBase()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "releases", "v{version}", "etcd-v{version}-{os}-{arch}.tar.gz"), nil
}

// Publish writes the release tarball of every built version for this
// machine's OS and architecture into the cache (once per version, under
// the version's build lock), so that ReleaseSource serves each.
func Publish() error {
	base, err := CacheBase()
	if err != nil {
		return err
	}
	for _, v := range Built() {
		dir := filepath.Join(base, "releases", "v"+v)
		tarball := filepath.Join(dir, release.Dir(v, runtime.GOOS, runtime.GOARCH)+".tar.gz")
		if exists(tarball) && exists(filepath.Join(dir, "SHA256SUMS")) {
			continue
		}
		bin := filepath.Join(base, "etcd", "v"+v)
		if err := withLock(bin, func() error {
			if exists(tarball) && exists(filepath.Join(dir, "SHA256SUMS")) {
				return nil
			}
			_, err := release.Publish(dir, v, runtime.GOOS, runtime.GOARCH, filepath.Join(bin, "etcd"), filepath.Join(bin, "etcdutl"))
			return err
		}); err != nil {
			return fmt.Errorf("etcdbin: publishing etcd %s: %w", v, err)
		}
	}
	return nil
}

// withLock runs f holding the build lock of the version directory dir.
func withLock(dir string, f func() error) error {
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	return f()
}

// Ensure returns binaries of version v ("" means DefaultVersion), building
// them if they are not cached. progress, when non-nil, receives one line
// before a build starts. It locks the cache directory so that two processes
// (a test run beside a demo) do not build at once.
func Ensure(ctx context.Context, v string, progress func(string)) (*Binaries, error) {
	if v == "" {
		v = DefaultVersion
	}
	v = strings.TrimPrefix(v, "v")
	dir, err := CacheDir(v)
	if err != nil {
		return nil, err
	}
	b := &Binaries{Version: v, Etcd: filepath.Join(dir, "etcd"), Etcdutl: filepath.Join(dir, "etcdutl")}
	if exists(b.Etcd) && exists(b.Etcdutl) {
		return b, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("etcdbin: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("etcdbin: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("etcdbin: lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if exists(b.Etcd) && exists(b.Etcdutl) {
		return b, nil
	}
	if progress != nil {
		progress(fmt.Sprintf("building etcd %s from go.etcd.io/etcd (first time only, a few minutes)...", v))
	}
	if err := build(ctx, v, b); err != nil {
		return nil, err
	}
	return b, nil
}

// buildModuleDir finds internal/etcdbuild relative to this source file or
// the working directory (tests run from package directories, the CLI from
// the repository root or anywhere inside it).
func buildModuleDir() (string, error) {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "etcdbuild"))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			candidates = append(candidates, filepath.Join(d, "internal", "etcdbuild"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range candidates {
		if exists(filepath.Join(c, "go.mod")) {
			return filepath.Abs(c)
		}
	}
	return "", errors.New("etcdbin: cannot find internal/etcdbuild (run from the etcdform repository, or put etcd binaries in the cache: see README)")
}

func build(ctx context.Context, v string, b *Binaries) error {
	work, cleanup, err := buildModule(ctx, v)
	if err != nil {
		return err
	}
	defer cleanup()
	tmpEtcd, tmpUtl := b.Etcd+".tmp", b.Etcdutl+".tmp"
	if err := goCmd(ctx, work, "build", "-trimpath", "-o", tmpEtcd, "./etcd"); err != nil {
		return err
	}
	if err := goCmd(ctx, work, "build", "-trimpath", "-o", tmpUtl, "go.etcd.io/etcd/etcdutl/v3"); err != nil {
		return err
	}
	if err := os.Rename(tmpEtcd, b.Etcd); err != nil {
		return err
	}
	return os.Rename(tmpUtl, b.Etcdutl)
}

// buildModule returns the module to build version v in: internal/etcdbuild
// for DefaultVersion; for another version a fresh copy of its sources in
// which the etcd modules of that version choose every dependency (the
// pinned go.mod would hold newer etcd-internal modules back). cleanup
// removes the copy.
func buildModule(ctx context.Context, v string) (work string, cleanup func(), err error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", nil, errors.New("etcdbin: the Go toolchain is needed to build etcd: install Go and put it on PATH")
	}
	src, err := buildModuleDir()
	if err != nil {
		return "", nil, err
	}
	if v == DefaultVersion {
		return src, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "etcdbuild-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module etcdform.local/etcdbuild\n\ngo 1.24\n"), 0o644); err != nil {
		cleanup()
		return "", nil, err
	}
	for _, f := range []string{"tools.go", "etcd/main.go"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err == nil {
			err = os.MkdirAll(filepath.Dir(filepath.Join(tmp, f)), 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(tmp, f), data, 0o644)
		}
		if err != nil {
			cleanup()
			return "", nil, err
		}
	}
	err = goCmd(ctx, tmp, "get", "go.etcd.io/etcd/server/v3@v"+v, "go.etcd.io/etcd/etcdutl/v3@v"+v, "go.etcd.io/etcd/etcdctl/v3@v"+v)
	if err == nil {
		err = goCmd(ctx, tmp, "mod", "tidy")
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return tmp, cleanup, nil
}

// EnsureEtcdctl returns the path of etcdctl of version v ("" means
// DefaultVersion), built from go.etcd.io/etcd/etcdctl/v3 into the cache
// beside etcd and etcdutl if it is not there. Only the benchmarks need it
// (their baselines run the operator's etcdctl commands), so Ensure does
// not build it.
func EnsureEtcdctl(ctx context.Context, v string) (string, error) {
	if v == "" {
		v = DefaultVersion
	}
	v = strings.TrimPrefix(v, "v")
	dir, err := CacheDir(v)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "etcdctl")
	if exists(bin) {
		return bin, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("etcdbin: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("etcdbin: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("etcdbin: lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if exists(bin) {
		return bin, nil
	}
	work, cleanup, err := buildModule(ctx, v)
	if err != nil {
		return "", err
	}
	defer cleanup()
	if err := goCmd(ctx, work, "build", "-trimpath", "-o", bin+".tmp", "go.etcd.io/etcd/etcdctl/v3"); err != nil {
		return "", err
	}
	return bin, os.Rename(bin+".tmp", bin)
}

func goCmd(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("etcdbin: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
