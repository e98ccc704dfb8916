package etcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// SnapshotInfo describes a snapshot streamed by Snapshot.
type SnapshotInfo struct {
	Endpoint string // the client URL it came from
	MemberID uint64
	Size     int64  // bytes written, trailing hash included
	SHA256   string // hex sha256 of all bytes written (as sha256sum prints it)
	// Revision is the serving member's revision read just before the
	// stream began: the snapshot holds at least this revision.
	Revision int64
	// Version is the member's storage version ("3.6.0"), the etcd version
	// needed to restore it; "" when the member has not recorded one yet.
	Version string
}

// Snapshot streams a snapshot of the backend database from endpoint to w,
// using Maintenance.SnapshotWithVersion. An empty endpoint means a
// healthy voting member, a follower when one answers (snapshotSource);
// raised alarms other than CORRUPT do not stop it. The stream's
// trailing sha256 (etcd appends the sha256 of the database) is checked as
// it passes; a mismatch is ErrSnapshotHash.
func (c *Client) Snapshot(ctx context.Context, endpoint string, w io.Writer) (SnapshotInfo, error) {
	info := SnapshotInfo{Endpoint: endpoint}
	if endpoint == "" {
		m, ep, err := c.snapshotSource(ctx)
		if err != nil {
			return info, err
		}
		info.MemberID, info.Endpoint = m.ID, ep
	}
	pc, err := c.pinned(info.Endpoint)
	if err != nil {
		return info, err
	}
	defer pc.Close()
	// The member's own revision just before the snapshot: a lower bound
	// of what the snapshot holds.
	rev, err := pc.Get(ctx, gateKey, clientv3.WithSerializable(), clientv3.WithCountOnly())
	if err != nil {
		return info, fmt.Errorf("etcd: snapshot from %s: reading its revision: %w", info.Endpoint, err)
	}
	info.Revision = rev.Header.GetRevision()
	if info.MemberID == 0 {
		info.MemberID = rev.Header.GetMemberId()
	}
	resp, err := pc.SnapshotWithVersion(ctx)
	if err != nil {
		return info, fmt.Errorf("etcd: snapshot from %s: %w", info.Endpoint, err)
	}
	defer resp.Snapshot.Close()
	info.Version = resp.Version
	whole := sha256.New()
	tv := newTrailVerifier()
	n, err := io.Copy(io.MultiWriter(w, whole, tv), resp.Snapshot)
	info.Size = n
	info.SHA256 = hex.EncodeToString(whole.Sum(nil))
	if err != nil {
		return info, fmt.Errorf("etcd: snapshot from %s after %d bytes: %w", info.Endpoint, n, err)
	}
	if err := tv.verify(); err != nil {
		return info, fmt.Errorf("etcd: snapshot from %s: %w", info.Endpoint, err)
	}
	return info, nil
}

// snapshotSource picks the member to stream a snapshot from: a voting
// member that answers status with no error but raised alarms other than
// CORRUPT (a snapshot is a read: it works under NOSPACE, which every
// member's status lists), a follower rather than the leader (which is
// busy enough, and under recovery more so), and among those the one with
// the highest applied index.
func (c *Client) snapshotSource(ctx context.Context) (Member, string, error) {
	// A member's own view of the list when there is no quorum: a
	// snapshot is a local read, and the recovery from a lost quorum
	// takes one from its survivor first.
	ms, _, err := c.observeMembers(ctx)
	if err != nil {
		return Member{}, "", err
	}
	var best memberStatus
	better := func(s memberStatus) bool {
		if best.Status == nil {
			return true
		}
		sf, bf := s.Status.Leader != s.Member.ID, best.Status.Leader != best.Member.ID
		if sf != bf {
			return sf
		}
		return s.Status.RaftAppliedIndex > best.Status.RaftAppliedIndex
	}
	var skipped []string
	for _, s := range c.statuses(ctx, ms, false) {
		if s.Member.IsLearner {
			continue
		}
		if s.Err != nil {
			skipped = append(skipped, s.Err.Error())
			continue
		}
		if errs := snapshotErrors(s.Status.Errors); len(errs) > 0 {
			skipped = append(skipped, fmt.Sprintf("%s reports %s", s.Member, strings.Join(errs, ", ")))
			continue
		}
		if better(s) {
			best = s
		}
	}
	if best.Status == nil {
		return Member{}, "", fmt.Errorf("etcd: snapshot: no voting member to take it from: %s", strings.Join(skipped, "; "))
	}
	return best.Member, best.Endpoint, nil
}

// snapshotErrors is the status errors that keep a member from serving a
// snapshot: all but raised alarms other than CORRUPT and "no leader".
func snapshotErrors(errs []string) []string {
	var out []string
	for _, e := range errs {
		if t, ok := statusAlarm(e); ok && t != etcdserverpb.AlarmType_CORRUPT {
			continue
		}
		// A member without a leader still serves its own backend: the
		// recovery from a lost quorum snapshots its survivor first.
		if strings.Contains(e, rpctypes.ErrorDesc(rpctypes.ErrGRPCNoLeader)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// trailVerifier hashes everything but the last sha256.Size bytes seen,
// and keeps those to compare with the hash at the end.
type trailVerifier struct {
	h     hash.Hash
	tail  []byte
	total int64
}

func newTrailVerifier() *trailVerifier { return &trailVerifier{h: sha256.New()} }

func (t *trailVerifier) Write(p []byte) (int, error) {
	t.total += int64(len(p))
	buf := append(t.tail, p...)
	if cut := len(buf) - sha256.Size; cut > 0 {
		t.h.Write(buf[:cut])
		buf = buf[cut:]
	}
	t.tail = append([]byte(nil), buf...)
	return len(p), nil
}

func (t *trailVerifier) verify() error {
	return checkTrailer(t.total, t.h.Sum(nil), t.tail)
}

// etcd streams the bbolt file followed by its sha256. A bbolt file is a
// whole number of pages, and etcdutl recognises the hash by
// size % 512 == sha256.Size; so do we.
func checkTrailer(size int64, sum, trailer []byte) error {
	if size < 2*512+sha256.Size || (size-sha256.Size)%512 != 0 {
		return fmt.Errorf("%w: %d bytes", ErrSnapshotNoHash, size)
	}
	if !bytes.Equal(sum, trailer) {
		return fmt.Errorf("%w: content hashes to %x, trailer says %x", ErrSnapshotHash, sum, trailer)
	}
	return nil
}

// boltMagic is the bbolt meta page magic number.
const boltMagic = 0xED0CDAED

// VerifySnapshot checks the snapshot file at path: it must end with the
// sha256 of everything before it (as etcd streams it, and as etcdutl
// snapshot status/restore check), and start with a bbolt meta page. A
// truncated or corrupted file fails with ErrSnapshotNoHash or
// ErrSnapshotHash.
func VerifySnapshot(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("etcd: verifying snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("etcd: verifying snapshot %s: %w", path, err)
	}
	size := fi.Size()
	if size < 2*512+sha256.Size || (size-sha256.Size)%512 != 0 {
		return fmt.Errorf("etcd: snapshot %s: %w: %d bytes", path, ErrSnapshotNoHash, size)
	}
	// bbolt page header: id(8) flags(2) count(2) overflow(4), then meta.magic.
	head := make([]byte, 20)
	if _, err := io.ReadFull(f, head); err != nil {
		return fmt.Errorf("etcd: snapshot %s: %w", path, err)
	}
	if binary.LittleEndian.Uint32(head[16:]) != boltMagic {
		return fmt.Errorf("etcd: snapshot %s: %w: no bbolt magic at the start", path, ErrSnapshotHash)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("etcd: snapshot %s: %w", path, err)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, f, size-sha256.Size); err != nil {
		return fmt.Errorf("etcd: snapshot %s: %w", path, err)
	}
	trailer := make([]byte, sha256.Size)
	if _, err := io.ReadFull(f, trailer); err != nil {
		return fmt.Errorf("etcd: snapshot %s: %w", path, err)
	}
	if err := checkTrailer(size, h.Sum(nil), trailer); err != nil {
		return fmt.Errorf("etcd: snapshot %s: %w", path, err)
	}
	return nil
}
