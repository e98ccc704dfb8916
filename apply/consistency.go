package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/etcdform/etcdform/plan/model"
)

// ErrMembersDiffer: the members' HashKV at one revision differ, so at
// least one member's keyspace is not what the others hold. Apply stops
// before its first risky step: a restart, a removal or a snapshot taken
// from the odd member could spread the damage or lose the good copy.
var ErrMembersDiffer = errors.New("apply: members' HashKV differ")

// hashTries bounds how often compareHashes asks again when members
// answered from different compaction revisions (a compaction applied
// between two of its requests).
const hashTries = 3

// hashCheckAt returns the position in idx before which apply compares the
// members' HashKV: the first risky step (model.ActionInfo.Risky), or the
// snapshot the planner put before it, so that the snapshot is taken from
// agreeing members. It returns -1 when no step is risky, and when the
// cluster cannot answer HashKV for the whole cluster: a bootstrap (no
// cluster runs yet) or a recovery from a lost quorum.
func hashCheckAt(p *model.Plan, idx []int) int {
	snap := -1
	for n, i := range idx {
		a := p.Steps[i].Action
		switch {
		case a == model.BootstrapStart || a == model.RecoverSurvivor:
			return -1
		case a == model.Snapshot && snap < 0:
			snap = n
		case a.IsRisky():
			for _, j := range idx[n:] {
				if b := p.Steps[j].Action; b == model.BootstrapStart || b == model.RecoverSurvivor {
					return -1
				}
			}
			if snap >= 0 {
				return snap
			}
			return n
		}
	}
	return -1
}

// compareHashes asks for every member's HashKV at one revision
// (Etcd.MemberHashes) and compares the hashes of the members that
// answered from the same compaction revision. It returns what it compared
// ("a1b2c3d4 on etcd-1, etcd-2, etcd-3 at revision 812"), or an error
// wrapping ErrMembersDiffer that names each hash with its members. A
// member that does not answer is left out and named (a down member the
// plan is about to start); members that answered from another compaction
// revision than the others are asked again, up to hashTries times, and
// then named as not compared.
func compareHashes(ctx context.Context, e Etcd) (string, error) {
	var (
		rev int64
		hs  []MemberHash
		err error
	)
	for try := 1; ; try++ {
		rev, hs, err = e.MemberHashes(ctx)
		if err != nil {
			return "", fmt.Errorf("comparing the members' HashKV: %w", err)
		}
		if len(compactRevisions(hs)) <= 1 || try == hashTries {
			break
		}
	}
	compact := mostCommonCompaction(hs)
	byHash := map[uint32][]string{}
	var missing, other []string
	for _, h := range hs {
		switch {
		case h.Err != nil:
			missing = append(missing, fmt.Sprintf("%s (%v)", hashLabel(h), h.Err))
		case h.CompactRevision != compact:
			other = append(other, fmt.Sprintf("%s (compaction revision %d)", hashLabel(h), h.CompactRevision))
		default:
			byHash[h.Hash] = append(byHash[h.Hash], hashLabel(h))
		}
	}
	var groups []string
	for h, ms := range byHash {
		sort.Strings(ms)
		groups = append(groups, fmt.Sprintf("%08x on %s", h, strings.Join(ms, ", ")))
	}
	sort.Strings(groups)
	var notes string
	if len(missing) > 0 {
		notes += "; not answering, left out: " + strings.Join(missing, ", ")
	}
	if len(other) > 0 {
		notes += "; not compared: " + strings.Join(other, ", ")
	}
	if len(byHash) > 1 {
		return "", fmt.Errorf("%w at revision %d (%s): %s%s. A member whose keyspace differs from the others' is corrupt: no risky step was started. Find the odd member (`etcdctl endpoint hashkv --cluster`, etcd's CORRUPT alarm), replace it from a healthy member (remove it from the configuration, apply, add it back), and plan again",
			ErrMembersDiffer, rev, compactionLabel(compact), strings.Join(groups, "; "), notes)
	}
	return fmt.Sprintf("%s at revision %d%s", strings.Join(groups, ""), rev, notes), nil
}

// compactionLabel says where the hashes start: etcd reports -1 (or 0)
// when nothing was compacted.
func compactionLabel(rev int64) string {
	if rev <= 0 {
		return "the whole history: nothing compacted"
	}
	return fmt.Sprintf("from compaction revision %d", rev)
}

func hashLabel(h MemberHash) string {
	if h.Name != "" {
		return h.Name
	}
	return fmt.Sprintf("%x", h.ID)
}

// compactRevisions are the distinct compaction revisions of the members
// that answered.
func compactRevisions(hs []MemberHash) map[int64]bool {
	out := map[int64]bool{}
	for _, h := range hs {
		if h.Err == nil {
			out[h.CompactRevision] = true
		}
	}
	return out
}

// mostCommonCompaction is the compaction revision most members answered
// from (the newest on a tie).
func mostCommonCompaction(hs []MemberHash) int64 {
	count := map[int64]int{}
	var best int64
	for _, h := range hs {
		if h.Err != nil {
			continue
		}
		count[h.CompactRevision]++
		if c := count[h.CompactRevision]; c > count[best] || c == count[best] && h.CompactRevision > best {
			best = h.CompactRevision
		}
	}
	return best
}
