package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The in-cluster audit trail of a cluster is a hash chain: each apply
// writes one record at AuditKey(cluster, time) holding
//
//	{"hash":"sha256:<hex of the exact bytes of record>","record":{...}}
//
// where the record (ChainRecord) carries the hash of the record before it
// (Prev) and its sequence number. A changed byte anywhere shows: in a
// record's body its hash no longer matches, in its hash field likewise,
// and a removed or inserted record breaks the next one's Prev. Records
// beyond the newest Keep are folded into the cluster's summary record
// (AuditSummaryKey), which holds the hash of the newest record it folded
// in, so the chain goes on through it: nothing is dropped unaccounted.

// ChainRecord is one apply of one cluster, as the cluster keeps it.
type ChainRecord struct {
	Seq         int           `json:"seq"`
	Time        time.Time     `json:"time"`
	Cluster     string        `json:"cluster"`
	PlanHash    string        `json:"plan_hash"`
	GitCommit   string        `json:"git_commit,omitempty"`
	Author      string        `json:"author,omitempty"`
	Approver    string        `json:"approver,omitempty"`
	PipelineURL string        `json:"pipeline_url,omitempty"`
	JobURL      string        `json:"job_url,omitempty"`
	Outcome     string        `json:"outcome"`
	Steps       []SummaryStep `json:"steps"`
	// Prev is the hash of the record before this one ("" for the first
	// of the chain).
	Prev string `json:"prev"`
}

type chainEnvelope struct {
	Hash   string          `json:"hash"`
	Record json.RawMessage `json:"record"`
}

// AuditSummary stands for the records folded out of the cluster: how
// many, over what time, with what outcomes, and the hash and sequence
// number of the newest of them (the kept chain continues from it).
type AuditSummary struct {
	Cluster  string         `json:"cluster"`
	Count    int            `json:"count"`
	First    time.Time      `json:"first"`
	Last     time.Time      `json:"last"`
	Outcomes map[string]int `json:"outcomes"`
	LastHash string         `json:"last_hash"`
	LastSeq  int            `json:"last_seq"`
}

// AuditSummaryKey is the key of cluster's summary of folded records. It
// sorts after every record key (times start with a digit).
func AuditSummaryKey(cluster string) string { return AuditPrefix + cluster + "/summary" }

// DefaultAuditKeep is how many records a cluster keeps by default.
const DefaultAuditKeep = 100

// AuditKV is one stored audit key and its exact bytes.
type AuditKV struct {
	Key   string
	Value []byte
}

// AuditStore is what the audit trail needs of a cluster.
type AuditStore interface {
	// AuditRecords returns the keys under AuditPrefix+cluster+"/" in key
	// order, with their exact bytes.
	AuditRecords(ctx context.Context, cluster string) ([]AuditKV, error)
	PutAudit(ctx context.Context, key string, value []byte) error
	DeleteAudit(ctx context.Context, keys ...string) error
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ChainEntry is one stored record as Chain reads it.
type ChainEntry struct {
	Key    string
	Hash   string // the hash the record claims
	Record ChainRecord
	// Legacy is set for a record of an etcdform before the chain (no
	// hash): listed, not verified.
	Legacy bool
}

// ChainBreak is the first broken link Chain found.
type ChainBreak struct {
	Key    string
	Seq    int
	Reason string
}

func (b *ChainBreak) Error() string {
	if b.Seq > 0 {
		return fmt.Sprintf("the audit chain is broken at record %s (#%d): %s", b.Key, b.Seq, b.Reason)
	}
	return fmt.Sprintf("the audit chain is broken at record %s: %s", b.Key, b.Reason)
}

// Chain reads a cluster's stored records (AuditRecords' answer) in key
// order and checks every link: each record's hash against its exact
// bytes, each Prev against the hash of the record before it (or of the
// summary's newest folded record), and the sequence numbers. It returns
// what it read up to the first broken link, the summary (nil without
// one), and that break (nil when the chain holds).
func Chain(kvs []AuditKV) (entries []ChainEntry, summary *AuditSummary, brk *ChainBreak) {
	var records []AuditKV
	for _, kv := range kvs {
		if strings.HasSuffix(kv.Key, "/summary") {
			var s AuditSummary
			if err := strictJSON(kv.Value, &s); err != nil {
				return nil, nil, &ChainBreak{Key: kv.Key, Reason: "the summary does not parse: " + err.Error()}
			}
			summary = &s
			continue
		}
		records = append(records, kv)
	}
	prev, seq := "", 0
	if summary != nil {
		prev, seq = summary.LastHash, summary.LastSeq
	}
	chained := false
	for _, kv := range records {
		var env chainEnvelope
		if err := strictJSON(kv.Value, &env); err != nil || env.Hash == "" {
			var legacy Summary
			if !chained && err != nil && json.Unmarshal(kv.Value, &legacy) == nil && legacy.Cluster != "" && !bytes.Contains(kv.Value, []byte(`"hash"`)) {
				entries = append(entries, ChainEntry{Key: kv.Key, Legacy: true, Record: ChainRecord{
					Cluster: legacy.Cluster, PlanHash: legacy.PlanHash, GitCommit: legacy.GitCommit, Author: legacy.Author, Steps: legacy.Steps,
				}})
				continue
			}
			if err == nil {
				err = fmt.Errorf("no hash")
			}
			return entries, summary, &ChainBreak{Key: kv.Key, Seq: seq + 1, Reason: "the record does not parse as a chained record (" + err.Error() + "): it was changed after it was written"}
		}
		chained = true
		var r ChainRecord
		if err := strictJSON(env.Record, &r); err != nil {
			return entries, summary, &ChainBreak{Key: kv.Key, Seq: seq + 1, Reason: "the record's body does not parse (" + err.Error() + "): it was changed after it was written"}
		}
		if got := hashOf(env.Record); got != env.Hash {
			return entries, summary, &ChainBreak{Key: kv.Key, Seq: r.Seq, Reason: fmt.Sprintf("its content hashes to %s, not to the %s it was written with: it was changed after it was written", got, env.Hash)}
		}
		if r.Prev != prev {
			return entries, summary, &ChainBreak{Key: kv.Key, Seq: r.Seq, Reason: fmt.Sprintf("it follows a record with hash %q, but the record before it has %q: a record before it was removed, inserted or changed", r.Prev, prev)}
		}
		if r.Seq != seq+1 {
			return entries, summary, &ChainBreak{Key: kv.Key, Seq: r.Seq, Reason: fmt.Sprintf("it is record #%d, the one before it #%d", r.Seq, seq)}
		}
		entries = append(entries, ChainEntry{Key: kv.Key, Hash: env.Hash, Record: r})
		prev, seq = env.Hash, r.Seq
	}
	return entries, summary, nil
}

// AppendAudit adds r to cluster's chain (setting its Seq and Prev from
// the newest record) and folds the records beyond the newest keep into
// the summary, written before they are deleted. It refuses to extend a
// chain that is broken (the break is returned), so tampering is never
// covered over by a fresh link. It returns the record as stored, its
// hash and how many records it folded.
func AppendAudit(ctx context.Context, s AuditStore, key string, r ChainRecord, keep int) (stored ChainRecord, hash string, folded int, err error) {
	if keep < 1 {
		keep = DefaultAuditKeep
	}
	kvs, err := s.AuditRecords(ctx, r.Cluster)
	if err != nil {
		return r, "", 0, err
	}
	entries, summary, brk := Chain(kvs)
	if brk != nil {
		return r, "", 0, brk
	}
	r.Prev, r.Seq = "", 1
	if summary != nil {
		r.Prev, r.Seq = summary.LastHash, summary.LastSeq+1
	}
	var chained []ChainEntry
	for _, e := range entries {
		if !e.Legacy {
			chained = append(chained, e)
		}
	}
	if n := len(chained); n > 0 {
		r.Prev, r.Seq = chained[n-1].Hash, chained[n-1].Record.Seq+1
	}
	body, err := json.Marshal(r)
	if err != nil {
		return r, "", 0, err
	}
	hash = hashOf(body)
	env, err := json.Marshal(chainEnvelope{Hash: hash, Record: body})
	if err != nil {
		return r, "", 0, err
	}
	if err := s.PutAudit(ctx, key, env); err != nil {
		return r, "", 0, err
	}
	chained = append(chained, ChainEntry{Key: key, Hash: hash, Record: r})
	if len(chained) <= keep {
		return r, hash, 0, nil
	}
	fold := chained[:len(chained)-keep]
	if summary == nil {
		summary = &AuditSummary{Cluster: r.Cluster, First: fold[0].Record.Time, Outcomes: map[string]int{}}
	}
	var keys []string
	for _, e := range fold {
		summary.Count++
		summary.Last = e.Record.Time
		outcome, _, _ := strings.Cut(e.Record.Outcome, ":")
		summary.Outcomes[outcome]++
		summary.LastHash, summary.LastSeq = e.Hash, e.Record.Seq
		keys = append(keys, e.Key)
	}
	sb, err := json.Marshal(summary)
	if err != nil {
		return r, hash, 0, err
	}
	if err := s.PutAudit(ctx, AuditSummaryKey(r.Cluster), sb); err != nil {
		return r, hash, 0, err
	}
	return r, hash, len(fold), s.DeleteAudit(ctx, keys...)
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// writeChain appends this apply's record of cluster to its chain and
// notes the link in the audit file.
func writeChain(ctx context.Context, s AuditStore, cluster string, opts Options, outcome string) error {
	now := opts.Now()
	key := AuditKey(cluster, now)
	r, hash, folded, err := AppendAudit(ctx, s, key, opts.Audit.ChainRecord(cluster, now, outcome), opts.AuditKeep)
	if err != nil {
		return err
	}
	note := "in-cluster record " + key
	if folded > 0 {
		note += fmt.Sprintf("; %d older records folded into %s", folded, AuditSummaryKey(cluster))
	}
	prev := r.Prev
	opts.Audit.Record(AuditEntry{Kind: "record", Cluster: cluster, Time: now, Seq: r.Seq, Hash: hash, Prev: &prev, Outcome: note})
	return nil
}
