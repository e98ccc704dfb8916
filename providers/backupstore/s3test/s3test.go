// Package s3test runs a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw) serving a temporary directory on a free
// 127.0.0.1 port, with Stop and Start to fail uploads. The binary is built
// with `go install` into etcdform's cache on first use (about 4 minutes on
// 2 cores). Without Go or the module proxy a test is skipped, except under
// ETCDFORM_E2E=required, where it fails.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the harness builds.
const Version = "v1.8.0"

// Test credentials (a throwaway server on 127.0.0.1; not secrets).
const (
	AccessKey = "etcdform-test"
	SecretKey = "etcdform-test-secret"
)

// Server is one versitygw process.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Dir      string // the posix backend's root: one directory per bucket
	t        testing.TB
	bin      string
	addr     string
	log      string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
}

var buildMu sync.Mutex

// Binary returns the versitygw binary: $ETCDFORM_VERSITYGW, or the cached
// build, building it first when missing.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv("ETCDFORM_VERSITYGW"); p != "" {
		return p, nil
	}
	base := os.Getenv("ETCDFORM_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(c, "etcdform")
	}
	dir := filepath.Join(base, "versitygw", Version)
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("s3test: no go to build versitygw: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, goBin, "install", "github.com/versity/versitygw/cmd/versitygw@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("s3test: building versitygw %s: %v: %s", Version, err, tail(out))
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// New starts a server on 127.0.0.1 (building versitygw if needed) with
// the given buckets, and stops it in t.Cleanup.
func New(t testing.TB, buckets ...string) *Server {
	t.Helper()
	return NewAt(t, "127.0.0.1", buckets...)
}

// NewAt is New listening on ip (a lab bridge address, so that lab hosts
// reach it).
func NewAt(t testing.TB, ip string, buckets ...string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin, err := Binary(ctx)
	if err != nil {
		if os.Getenv("ETCDFORM_E2E") == "required" {
			t.Fatalf("s3test: versitygw is unavailable and ETCDFORM_E2E=required: %v", err)
		}
		t.Skipf("s3test: versitygw is unavailable (set ETCDFORM_VERSITYGW or allow `go install` from the module proxy): %v", err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := t.TempDir()
	s := &Server{Endpoint: "http://" + addr, Dir: filepath.Join(d, "data"), t: t, bin: bin, addr: addr, log: filepath.Join(d, "versitygw.log")}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("versitygw log: %s", tail(b))
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if err := s.Client().MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("s3test: making bucket %s: %v", b, err)
		}
	}
	return s
}

// Start starts the server on its address and waits until it answers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("s3test: already running")
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "--port", s.addr, "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("s3test: starting versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := s.clientLocked()
	for {
		_, err := cli.ListBuckets(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			b, _ := os.ReadFile(s.log)
			return fmt.Errorf("s3test: versitygw exited: %s", tail(b))
		case <-ctx.Done():
			return fmt.Errorf("s3test: versitygw on %s did not answer: %w", s.addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Client returns a minio client for the server.
func (s *Server) Client() *minio.Client { return s.clientLocked() }

func (s *Server) clientLocked() *minio.Client {
	cli, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		panic(err) // only a malformed address fails, and ours is not
	}
	return cli
}

// Getenv returns the AWS_* credential variables for the server, for
// providers/backupstore.Options.Getenv and commands' environments.
func (s *Server) Getenv(k string) string {
	switch k {
	case "AWS_ACCESS_KEY_ID":
		return AccessKey
	case "AWS_SECRET_ACCESS_KEY":
		return SecretKey
	}
	return ""
}

// Objects lists every object key in bucket.
func (s *Server) Objects(t testing.TB, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	for o := range s.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("s3test: listing %s: %v", bucket, o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
