package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// memAudit is an AuditStore in memory.
type memAudit map[string][]byte

func (m memAudit) AuditRecords(_ context.Context, cluster string) ([]AuditKV, error) {
	var out []AuditKV
	for k, v := range m {
		if strings.HasPrefix(k, AuditPrefix+cluster+"/") {
			out = append(out, AuditKV{Key: k, Value: append([]byte(nil), v...)})
		}
	}
	slices.SortFunc(out, func(a, b AuditKV) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (m memAudit) PutAudit(_ context.Context, k string, v []byte) error {
	m[k] = append([]byte(nil), v...)
	return nil
}

func (m memAudit) DeleteAudit(_ context.Context, keys ...string) error {
	for _, k := range keys {
		delete(m, k)
	}
	return nil
}

// appendN appends n applies of cluster c, a minute apart.
func appendN(t *testing.T, m memAudit, n, keep int) []string {
	t.Helper()
	var keys []string
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i := range n {
		now := t0.Add(time.Duration(len(m)+i) * time.Minute)
		key := AuditKey("c", now)
		r := ChainRecord{Time: now, Cluster: "c", PlanHash: fmt.Sprintf("sha%d", i), Approver: "alice", Outcome: "success",
			Steps: []SummaryStep{{N: 1, Action: "restart", Member: "m1", Start: now, End: now, Outcome: "done"}}}
		if _, _, _, err := AppendAudit(context.Background(), m, key, r, keep); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	return keys
}

// TestAuditChain: five applies form a chain that verifies; any one byte
// changed in a record (every byte is tried) breaks the chain at that
// record; a removed record breaks it at the next; a broken chain is not
// extended.
func TestAuditChain(t *testing.T) {
	m := memAudit{}
	keys := appendN(t, m, 5, 100)
	kvs, _ := m.AuditRecords(context.Background(), "c")
	entries, summary, brk := Chain(kvs)
	if brk != nil || summary != nil || len(entries) != 5 {
		t.Fatalf("chain: %d entries, summary %v, break %v", len(entries), summary, brk)
	}
	for i, e := range entries {
		if e.Record.Seq != i+1 || e.Record.Approver != "alice" {
			t.Errorf("record %d: %+v", i, e.Record)
		}
	}

	victim := keys[2]
	orig := m[victim]
	for i := range orig {
		m[victim] = slices.Clone(orig)
		m[victim][i] ^= 0x01
		kvs, _ := m.AuditRecords(context.Background(), "c")
		if _, _, brk := Chain(kvs); brk == nil || brk.Key != victim {
			t.Fatalf("byte %d of %s (%q -> %q) changed: break %v, want one at %s", i, victim, orig[i], m[victim][i], brk, victim)
		}
	}
	m[victim] = orig

	delete(m, keys[1])
	kvs, _ = m.AuditRecords(context.Background(), "c")
	if _, _, brk := Chain(kvs); brk == nil || brk.Key != keys[2] || !strings.Contains(brk.Reason, "removed, inserted or changed") {
		t.Errorf("a removed record: break %v, want one at %s", brk, keys[2])
	}
	_, _, _, err := AppendAudit(context.Background(), m, AuditKey("c", time.Now()), ChainRecord{Cluster: "c"}, 100)
	var cb *ChainBreak
	if !errors.As(err, &cb) {
		t.Errorf("AppendAudit on a broken chain: %v, want the break", err)
	}
}

// TestAuditChainFolds: with keep 3, six applies leave three records and a
// summary of the other three; the chain verifies through the summary, and
// a changed summary breaks it.
func TestAuditChainFolds(t *testing.T) {
	m := memAudit{}
	keys := appendN(t, m, 6, 3)
	kvs, _ := m.AuditRecords(context.Background(), "c")
	entries, summary, brk := Chain(kvs)
	if brk != nil || len(entries) != 3 || summary == nil || summary.Count != 3 || summary.LastSeq != 3 || summary.Outcomes["success"] != 3 {
		t.Fatalf("chain: %d entries, summary %+v, break %v", len(entries), summary, brk)
	}
	if entries[0].Key != keys[3] || entries[0].Record.Seq != 4 {
		t.Errorf("first kept record %s #%d, want %s #4", entries[0].Key, entries[0].Record.Seq, keys[3])
	}
	m[AuditSummaryKey("c")] = []byte(strings.Replace(string(m[AuditSummaryKey("c")]), `"last_seq":3`, `"last_seq":2`, 1))
	kvs, _ = m.AuditRecords(context.Background(), "c")
	if _, _, brk := Chain(kvs); brk == nil || brk.Key != keys[3] {
		t.Errorf("a changed summary: break %v, want one at %s", brk, keys[3])
	}
}

// TestAuditChainLegacy: records of an etcdform before the chain are
// listed as legacy and the chain starts after them.
func TestAuditChainLegacy(t *testing.T) {
	m := memAudit{}
	a := NewAudit(nil, "sha0", "abc", "bob")
	m[AuditKey("c", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))] = a.Summary("c")
	appendN(t, m, 2, 100)
	kvs, _ := m.AuditRecords(context.Background(), "c")
	entries, _, brk := Chain(kvs)
	if brk != nil || len(entries) != 3 || !entries[0].Legacy || entries[1].Record.Seq != 1 || entries[1].Record.Prev != "" {
		t.Fatalf("entries %+v, break %v", entries, brk)
	}
}
