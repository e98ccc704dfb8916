package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/providers/etcd"
)

// ErrNoRecipient is returned by Run when a job has no age recipient and
// has not been allowed to store plaintext.
var ErrNoRecipient = errors.New("backup: no encryption recipient (set encryption.recipient, or allow_unencrypted)")

// ErrRecipientIsIdentity is returned by Run when the recipient is an age
// identity (a secret key) instead of a public key. The error never holds
// the key.
var ErrRecipientIsIdentity = errors.New("backup: the encryption recipient is an age identity (AGE-SECRET-KEY-...), a secret key that must not be passed as a recipient: give its public key (age1..., which age-keygen -y prints), and keep the identity off the hosts and the command line")

// IsIdentity reports whether s holds an age identity (secret key) rather
// than recipients.
func IsIdentity(s string) bool { return strings.Contains(strings.ToUpper(s), "AGE-SECRET-KEY-") }

// Job is one backup run's settings.
type Job struct {
	Cluster  string // names the snapshots and the metrics
	Endpoint string // client URL of the member to snapshot (the local one)
	// EtcdOptions configure the etcd client (TLS, timeouts).
	EtcdOptions []etcd.Option
	Store       backupstore.Store
	// Recipient is an age public key (age1...). The snapshot is encrypted
	// to it before it leaves the host; the host never holds the identity.
	Recipient        string
	AllowUnencrypted bool
	KeepLast         int           // 0: no count limit
	MaxAge           time.Duration // 0: no age limit
	// WorkDir holds the plaintext snapshot while it is checked and
	// encrypted (a private directory is made in it and removed); "" means
	// the system's temporary directory. Put it on the member's own disk.
	WorkDir string
	// Textfile is the Prometheus textfile to update; "" means none.
	Textfile string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ConnectTimeout bounds the first status request to the member, so a
	// run against a member that is down fails fast; 0 means 10s.
	ConnectTimeout time.Duration
	// UploadProgress, when non-nil, is called with the bytes uploaded so
	// far (tests use it to fail an upload midway).
	UploadProgress func(int64)
}

// Result is what a successful run did.
type Result struct {
	Meta     backupstore.Meta
	Deleted  []string // snapshot IDs removed by retention
	Duration time.Duration
}

// Extensions of stored snapshot objects.
const (
	ExtEncrypted = ".snap.age"
	ExtPlain     = ".snap"
)

// Run takes, checks, encrypts, uploads and records one backup, then
// applies retention and updates the textfile. On error nothing new is
// left at the destination (a complete backup stays when only retention
// failed), and the textfile records the failure.
func Run(ctx context.Context, j Job) (*Result, error) {
	now := j.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	res, err := run(ctx, j, start, now)
	if res != nil {
		res.Duration = now().Sub(start)
	}
	if j.Textfile != "" {
		m := Metrics{Cluster: j.Cluster, RunTime: start, Duration: now().Sub(start), Success: err == nil}
		if res != nil {
			m.Size = res.Meta.StoredSize
		}
		if merr := WriteTextfile(j.Textfile, m); merr != nil && err == nil {
			err = merr
		}
	}
	return res, err
}

func run(ctx context.Context, j Job, start time.Time, now func() time.Time) (*Result, error) {
	if j.Store == nil || j.Endpoint == "" || j.Cluster == "" {
		panic("backup: Job needs Cluster, Endpoint and Store")
	}
	var recipients []age.Recipient
	if IsIdentity(j.Recipient) {
		return nil, ErrRecipientIsIdentity
	}
	if j.Recipient != "" {
		rs, err := age.ParseRecipients(strings.NewReader(j.Recipient))
		if err != nil {
			return nil, fmt.Errorf("backup: encryption recipient: %w", err)
		}
		recipients = rs
	} else if !j.AllowUnencrypted {
		return nil, ErrNoRecipient
	}

	if j.WorkDir != "" {
		// Root-only: it holds a plaintext copy of every key.
		if err := os.MkdirAll(j.WorkDir, 0o700); err != nil {
			return nil, fmt.Errorf("backup: work directory: %w", err)
		}
	}
	work, err := os.MkdirTemp(j.WorkDir, "etcdform-backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: work directory: %w", err)
	}
	defer os.RemoveAll(work)
	snapPath := filepath.Join(work, "snapshot.db")

	cli, err := etcd.New([]string{j.Endpoint}, j.EtcdOptions...)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer cli.Close()
	ct := j.ConnectTimeout
	if ct == 0 {
		ct = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(ctx, ct)
	_, err = cli.Raw().Status(sctx, j.Endpoint)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("backup: the member at %s does not answer: %w", j.Endpoint, err)
	}
	info, err := takeSnapshot(ctx, cli, j.Endpoint, snapPath)
	if err != nil {
		return nil, err
	}
	if err := etcd.VerifySnapshot(snapPath); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	st, err := Inspect(snapPath)
	if err != nil {
		return nil, err
	}
	meta := backupstore.Meta{
		ID:          fmt.Sprintf("%s-%s-r%d", j.Cluster, start.UTC().Format("20060102T150405Z"), st.Revision),
		Cluster:     j.Cluster,
		Member:      info.Endpoint,
		Time:        start.UTC(),
		Revision:    st.Revision,
		KeyCount:    st.KeyCount,
		SHA256:      info.SHA256,
		Size:        info.Size,
		Encrypted:   recipients != nil,
		Recipient:   j.Recipient,
		EtcdVersion: info.Version,
	}
	// HashKV at the snapshot's revision lets the drill compare content,
	// not only counts. It fails when the revision was compacted meanwhile.
	if hk, err := cli.Raw().HashKV(ctx, j.Endpoint, st.Revision); err == nil {
		meta.KVHash = hk.Hash
	}
	meta.Object = meta.ID + ExtPlain
	if meta.Encrypted {
		meta.Object = meta.ID + ExtEncrypted
	}

	stored, err := upload(ctx, j, snapPath, meta.Object, recipients)
	if err != nil {
		return nil, err
	}
	meta.StoredSize = stored
	meta.DurationSecs = now().Sub(start).Seconds()
	side, err := backupstore.EncodeMeta(meta)
	if err == nil {
		_, err = j.Store.Put(ctx, backupstore.SidecarName(meta.ID), strings.NewReader(string(side)), nil)
	}
	if err != nil {
		// Without its sidecar the object is not a backup: take it away.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := j.Store.Delete(dctx, meta.Object); derr != nil {
			return nil, fmt.Errorf("backup: recording %s: %w (and removing the object failed: %v)", meta.ID, err, derr)
		}
		return nil, fmt.Errorf("backup: recording %s: %w", meta.ID, err)
	}
	res := &Result{Meta: meta}
	res.Deleted, err = ApplyRetention(ctx, j.Store, j.Cluster, meta.ID, j.KeepLast, j.MaxAge, start)
	if err != nil {
		return res, err
	}
	return res, nil
}

func takeSnapshot(ctx context.Context, cli *etcd.Client, endpoint, path string) (etcd.SnapshotInfo, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return etcd.SnapshotInfo{}, fmt.Errorf("backup: %w", err)
	}
	info, err := cli.Snapshot(ctx, endpoint, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return info, fmt.Errorf("backup: snapshot of %s: %w", endpoint, err)
	}
	return info, nil
}

// upload streams the snapshot, encrypted when recipients are given,
// into the store under name.
func upload(ctx context.Context, j Job, path, name string, recipients []age.Recipient) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	var src io.Reader = f
	if recipients != nil {
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			w, err := age.Encrypt(pw, recipients...)
			if err == nil {
				_, err = io.Copy(w, f)
			}
			if err == nil {
				err = w.Close()
			}
			pw.CloseWithError(err)
		}()
		defer func() { <-done }()
		defer pr.Close() // unblocks the encrypter if Put stopped reading
		src = pr
	}
	n, err := j.Store.Put(ctx, name, src, j.UploadProgress)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ApplyRetention deletes cluster's snapshots at s beyond the newest
// keepLast, and those older than maxAge at now; keep is never deleted. It
// returns the deleted IDs. A snapshot's sidecar goes first, so a failure
// midway leaves at worst an unlisted object, never a listed one without
// its data.
func ApplyRetention(ctx context.Context, s backupstore.Store, cluster, keep string, keepLast int, maxAge time.Duration, now time.Time) ([]string, error) {
	if keepLast <= 0 && maxAge <= 0 {
		return nil, nil
	}
	all, _, err := backupstore.List(ctx, s)
	if err != nil {
		return nil, err
	}
	var mine []backupstore.Meta
	for _, m := range all {
		if m.Cluster == cluster {
			mine = append(mine, m)
		}
	}
	var deleted []string
	var errs []error
	for i := range mine { // newest first
		m := mine[len(mine)-1-i]
		if m.ID == keep {
			continue
		}
		tooMany := keepLast > 0 && i >= keepLast
		tooOld := maxAge > 0 && now.Sub(m.Time) > maxAge
		if !tooMany && !tooOld {
			continue
		}
		if err := s.Delete(ctx, backupstore.SidecarName(m.ID)); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.Delete(ctx, m.Object); err != nil {
			errs = append(errs, err)
		}
		deleted = append(deleted, m.ID)
	}
	// Objects without a record are what a run killed between the upload
	// and the record leaves behind: invisible to list and verify, so
	// removed once they are older than OrphanGrace (a run in progress
	// elsewhere is younger).
	orphans, err := orphanObjects(ctx, s, cluster, all, now)
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range orphans {
		if err := s.Delete(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, name)
	}
	if err := errors.Join(errs...); err != nil {
		return deleted, fmt.Errorf("backup: retention: %w", err)
	}
	return deleted, nil
}

// OrphanGrace is how old an unrecorded snapshot object must be before
// retention removes it.
const OrphanGrace = 6 * time.Hour

func orphanObjects(ctx context.Context, s backupstore.Store, cluster string, recorded []backupstore.Meta, now time.Time) ([]string, error) {
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, m := range recorded {
		known[m.Object] = true
	}
	var out []string
	for _, n := range names {
		id, ok := strings.CutSuffix(n, ExtEncrypted)
		if !ok {
			id, ok = strings.CutSuffix(n, ExtPlain)
		}
		if !ok || known[n] {
			continue
		}
		// IDs are CLUSTER-20060102T150405Z-rREV.
		rest, ok := strings.CutPrefix(id, cluster+"-")
		if !ok || len(rest) < 16 {
			continue
		}
		t, err := time.Parse("20060102T150405Z", rest[:16])
		if err != nil || !strings.HasPrefix(rest[16:], "-r") {
			continue
		}
		if now.Sub(t) > OrphanGrace {
			out = append(out, n)
		}
	}
	return out, nil
}
