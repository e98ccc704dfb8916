package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/providers/etcd"
)

// Errors of the restore drill.
var (
	ErrCorrupt  = errors.New("backup: snapshot is corrupted or truncated")
	ErrMismatch = errors.New("backup: restored snapshot does not match its record")
	ErrNoBackup = errors.New("backup: no snapshot at the destination")
)

// Drill configures Verify.
type Drill struct {
	Store backupstore.Store
	// ID is the snapshot to verify; "" means the newest (of Cluster, when
	// set).
	ID      string
	Cluster string
	// Identities decrypt the snapshot (from an age identity file).
	Identities []age.Identity
	// Etcd and Etcdutl are the binaries to restore and serve with.
	Etcd, Etcdutl string
	// WorkDir holds the decrypted snapshot and the throwaway member's
	// data ("" means the system's temporary directory); removed after.
	WorkDir string
	// StartTimeout bounds the wait for the throwaway member; 0 means 60s.
	StartTimeout time.Duration
}

// DrillReport is what Verify found.
type DrillReport struct {
	Meta        backupstore.Meta
	Revision    int64  // restored member's revision
	KeyCount    int64  // restored member's live keys
	KVHash      uint32 // restored member's HashKV at Meta.Revision
	FetchTime   time.Duration
	RestoreTime time.Duration // etcdutl restore
	StartTime   time.Duration // until the member served
	Total       time.Duration
	Problems    []string // mismatches; empty means verified
}

// Verify runs the restore drill: fetch and decrypt the snapshot, check
// its sha256 and trailer, restore it with etcdutl into a temporary
// directory, start a single-member etcd on free 127.0.0.1 ports, and
// compare its revision, key count and HashKV with the recorded ones. A
// damaged snapshot is ErrCorrupt; a restored member that differs from the
// record returns the report and ErrMismatch.
func Verify(ctx context.Context, d Drill) (*DrillReport, error) {
	start := time.Now()
	meta, err := pick(ctx, d)
	if err != nil {
		return nil, err
	}
	rep := &DrillReport{Meta: meta}
	work, err := os.MkdirTemp(d.WorkDir, "etcdform-drill-")
	if err != nil {
		return rep, fmt.Errorf("backup: drill: %w", err)
	}
	defer os.RemoveAll(work)
	snap := filepath.Join(work, "snapshot.db")
	if err := Fetch(ctx, d.Store, meta, d.Identities, snap); err != nil {
		return rep, err
	}
	rep.FetchTime = time.Since(start)

	t := time.Now()
	peer, client, err := freeURLs()
	if err != nil {
		return rep, err
	}
	dataDir := filepath.Join(work, "data")
	name := "drill"
	restore := exec.CommandContext(ctx, d.Etcdutl, "snapshot", "restore", snap,
		"--data-dir", dataDir, "--name", name,
		"--initial-cluster", name+"="+peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster-token", fmt.Sprintf("etcdform-drill-%d", time.Now().UnixNano()))
	if out, err := restore.CombinedOutput(); err != nil {
		return rep, fmt.Errorf("%w: etcdutl snapshot restore of %s failed: %v: %s", ErrCorrupt, meta.ID, err, lastLines(out, 5))
	}
	rep.RestoreTime = time.Since(t)

	t = time.Now()
	logPath := filepath.Join(work, "etcd.log")
	stop, err := startMember(d.Etcd, name, dataDir, peer, client, logPath)
	if err != nil {
		return rep, err
	}
	defer stop()
	timeout := d.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	cli, err := waitServing(ctx, client, timeout)
	if err != nil {
		b, _ := os.ReadFile(logPath)
		return rep, fmt.Errorf("backup: drill: the restored member did not serve: %w; its log ends: %s", err, lastLines(b, 5))
	}
	defer cli.Close()
	rep.StartTime = time.Since(t)
	if err := check(ctx, cli, client, rep); err != nil {
		return rep, err
	}
	rep.Total = time.Since(start)
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(rep.Problems, "; "))
	}
	return rep, nil
}

func pick(ctx context.Context, d Drill) (backupstore.Meta, error) {
	if d.ID != "" {
		if !backupstore.ValidID(d.ID) {
			return backupstore.Meta{}, fmt.Errorf("backup: bad snapshot id %q", d.ID)
		}
		return backupstore.ReadMeta(ctx, d.Store, d.ID)
	}
	all, _, err := backupstore.List(ctx, d.Store)
	if err != nil {
		return backupstore.Meta{}, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if d.Cluster == "" || all[i].Cluster == d.Cluster {
			return all[i], nil
		}
	}
	return backupstore.Meta{}, fmt.Errorf("%w %s", ErrNoBackup, d.Store)
}

// Fetch reads snapshot meta.Object from store, decrypts it with ids when
// meta.Encrypted, writes it to a new file at path (0600) and checks its
// size, sha256 and etcd's trailing hash against meta. A damaged or cut
// object is ErrCorrupt; an identity that does not match the recipient
// says so (never printing the identity).
func Fetch(ctx context.Context, store backupstore.Store, meta backupstore.Meta, ids []age.Identity, path string) error {
	d := struct{ Identities []age.Identity }{ids}
	rc, err := store.Get(ctx, meta.Object)
	if err != nil {
		return err
	}
	defer rc.Close()
	var src io.Reader = rc
	if meta.Encrypted {
		if len(d.Identities) == 0 {
			return fmt.Errorf("backup: snapshot %s is encrypted: an age identity is needed (--identity)", meta.ID)
		}
		r, err := age.Decrypt(rc, d.Identities...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return fmt.Errorf("backup: snapshot %s: the identity does not match its recipient %s", meta.ID, meta.Recipient)
			}
			return fmt.Errorf("%w: %s: decrypting: %v", ErrCorrupt, meta.ID, err)
		}
		src = r
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: drill: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if meta.Encrypted {
			// age authenticates every chunk: a damaged or cut object fails here.
			return fmt.Errorf("%w: %s: decrypting after %d bytes: %v", ErrCorrupt, meta.ID, n, err)
		}
		return fmt.Errorf("backup: fetching %s: %w", meta.ID, err)
	}
	if n != meta.Size {
		return fmt.Errorf("%w: %s: %d bytes, %d recorded", ErrCorrupt, meta.ID, n, meta.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != meta.SHA256 {
		return fmt.Errorf("%w: %s: sha256 %s, %s recorded", ErrCorrupt, meta.ID, got, meta.SHA256)
	}
	if err := etcd.VerifySnapshot(path); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, meta.ID, err)
	}
	return nil
}

func check(ctx context.Context, cli *clientv3.Client, client string, rep *DrillReport) error {
	m := rep.Meta
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	resp, err := cli.Get(cctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("backup: drill: counting keys: %w", err)
	}
	rep.Revision, rep.KeyCount = resp.Header.Revision, resp.Count
	if rep.Revision != m.Revision {
		rep.Problems = append(rep.Problems, fmt.Sprintf("revision %d, %d recorded", rep.Revision, m.Revision))
	}
	if rep.KeyCount != m.KeyCount {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d keys, %d recorded", rep.KeyCount, m.KeyCount))
	}
	if m.KVHash != 0 {
		hk, err := cli.HashKV(cctx, client, m.Revision)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("HashKV at revision %d: %v", m.Revision, err))
		} else if rep.KVHash = hk.Hash; hk.Hash != m.KVHash {
			rep.Problems = append(rep.Problems, fmt.Sprintf("HashKV %d at revision %d, %d recorded", hk.Hash, m.Revision, m.KVHash))
		}
	}
	return nil
}

// freeURLs returns a peer and a client URL on free 127.0.0.1 ports.
func freeURLs() (string, string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var urls []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", fmt.Errorf("backup: drill: %w", err)
		}
		ls = append(ls, l)
		urls = append(urls, "http://"+l.Addr().String())
	}
	return urls[0], urls[1], nil
}

// startMember starts the throwaway etcd; stop kills it and waits.
func startMember(bin, name, dataDir, peer, client, logPath string) (stop func(), err error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("backup: drill: %w", err)
	}
	cmd := exec.Command(bin, "--name", name, "--data-dir", dataDir,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--log-outputs", "stderr")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("backup: drill: starting etcd: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	return func() {
		cmd.Process.Kill()
		<-done
	}, nil
}

func waitServing(ctx context.Context, client string, timeout time.Duration) (*clientv3.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	for {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cli.Status(sctx, client)
		scancel()
		if err == nil && st.Leader != 0 {
			return cli, nil
		}
		select {
		case <-ctx.Done():
			cli.Close()
			if err == nil {
				err = errors.New("no leader")
			}
			return nil, fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
