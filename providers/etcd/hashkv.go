package etcd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// HashKVAll asks every started voting member for HashKV at one common revision:
// the cluster's current revision, read linearizably. A member that has not
// applied that revision yet is asked again until ctx ends. It returns the
// hashes by member ID and the revision.
//
// The members are asked one at a time. While a member hashes its keyspace
// (every revision since the last compaction) it holds its backend's read
// transaction, and every write it applies meanwhile waits for it: asked at
// once, all members stop applying writes together, and every client waits
// (issue 20 measured 0.9 s on a lab whose history had grown to a few
// hundred thousand revisions); one at a time, only the requests answered
// by the member being hashed wait.
func (c *Client) HashKVAll(ctx context.Context) (map[uint64]uint32, int64, error) {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.cli.Get(ctx, gateKey)
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: reading the current revision: %w", err)
	}
	rev := resp.Header.Revision
	hashes := map[uint64]uint32{}
	for _, m := range ms {
		if len(m.ClientURLs) == 0 || m.IsLearner {
			continue // never started, or a learner (which refuses HashKV)
		}
		if c.o.onHashKV != nil {
			c.o.onHashKV(m.Name, true)
		}
		h, _, err := c.hashKV(ctx, m, rev)
		if c.o.onHashKV != nil {
			c.o.onHashKV(m.Name, false)
		}
		if err != nil {
			return hashes, rev, err
		}
		hashes[m.ID] = h
	}
	return hashes, rev, nil
}

// hashKV asks one member, retrying while rev is in its future.
func (c *Client) hashKV(ctx context.Context, m Member, rev int64) (uint32, int64, error) {
	ep := m.ClientURLs[0]
	for {
		pctx, cancel := c.probeCtx(ctx)
		resp, err := c.cli.HashKV(pctx, ep, rev)
		cancel()
		if err == nil {
			return resp.Hash, resp.CompactRevision, nil
		}
		if !isEtcdErr(err, rpctypes.ErrGRPCFutureRev) {
			return 0, 0, fmt.Errorf("etcd: HashKV of %s at %s, revision %d: %w", m, ep, rev, err)
		}
		if werr := wait(ctx, c.o.pollInterval); werr != nil {
			return 0, 0, fmt.Errorf("etcd: HashKV of %s at %s: revision %d not applied (%w): %w", m, ep, rev, werr, err)
		}
	}
}

// CheckConsistent compares HashKVAll's hashes. Errors: ErrInconsistent
// listing each member's hash, or HashKVAll's error.
func (c *Client) CheckConsistent(ctx context.Context) error {
	hashes, rev, err := c.HashKVAll(ctx)
	if err != nil {
		return err
	}
	byHash := map[uint32][]string{}
	for id, h := range hashes {
		byHash[h] = append(byHash[h], hexID(id))
	}
	if len(byHash) <= 1 {
		return nil
	}
	var parts []string
	for h, ids := range byHash {
		sort.Strings(ids)
		parts = append(parts, fmt.Sprintf("%08x on %s", h, strings.Join(ids, ",")))
	}
	sort.Strings(parts)
	return fmt.Errorf("%w at revision %d: %s", ErrInconsistent, rev, strings.Join(parts, "; "))
}

// MemberHash is one member's answer to HashKV at a revision.
type MemberHash struct {
	ID   uint64
	Name string
	// Hash is the hash of the keyspace from CompactRevision to the
	// revision asked; two members' hashes compare only when their
	// CompactRevision is the same.
	Hash            uint32
	CompactRevision int64
	// Err says why the member did not answer; Hash is then unset.
	Err error
}

// MemberHashes is HashKVAll that goes on past a member that does not
// answer: it asks every started voting member, one at a time, for HashKV
// at the cluster's current revision (read linearizably), and returns each
// answer or error, in member list order. err is set only when the member
// list or the revision cannot be read.
func (c *Client) MemberHashes(ctx context.Context) (int64, []MemberHash, error) {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.cli.Get(ctx, gateKey)
	if err != nil {
		return 0, nil, fmt.Errorf("etcd: reading the current revision: %w", err)
	}
	rev := resp.Header.Revision
	var out []MemberHash
	for _, m := range ms {
		if len(m.ClientURLs) == 0 || m.IsLearner {
			continue // never started, or a learner (which refuses HashKV)
		}
		// A member known to be down in this apply (Down) is left out at
		// once, as one that does not answer is: it cost its endpoint
		// timeout already (BenchmarkReplaceDeadMember spent 2 s here on
		// the dead member before this check).
		if err := c.o.down.known(m.ClientURLs[0]); err != nil {
			out = append(out, MemberHash{ID: m.ID, Name: m.Name, Err: fmt.Errorf("%w (%w)", ErrKnownDown, err)})
			continue
		}
		if c.o.onHashKV != nil {
			c.o.onHashKV(m.Name, true)
		}
		h, compact, err := c.hashKV(ctx, m, rev)
		if c.o.onHashKV != nil {
			c.o.onHashKV(m.Name, false)
		}
		if err != nil && ctx.Err() == nil { // hashKV gives up on a future revision only when ctx ends
			c.o.down.record(m.ClientURLs[0], err)
		}
		out = append(out, MemberHash{ID: m.ID, Name: m.Name, Hash: h, CompactRevision: compact, Err: err})
	}
	return rev, out, nil
}
