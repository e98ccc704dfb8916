package history

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func put(c int, key, value string, call, ret int64) Op {
	return Op{Client: c, Kind: Put, Key: key, Value: value, Call: call, Return: ret}
}

func get(c int, key, value string, call, ret int64) Op {
	return Op{Client: c, Kind: Get, Key: key, Value: value, Call: call, Return: ret}
}

func failed(o Op) Op { o.Err = "context deadline exceeded"; return o }

func TestCheck(t *testing.T) {
	tests := map[string]struct {
		ops  []Op
		want Verdict
	}{
		"linearizable: concurrent put and gets on two keys": {
			ops: []Op{
				get(0, "a", "", 0, 5),
				put(1, "a", "v1", 2, 10),
				get(2, "a", "v1", 6, 8), // overlaps the put: sees it
				get(0, "a", "v1", 11, 12),
				put(1, "b", "w1", 11, 13),
				put(2, "a", "v2", 12, 20),
				get(0, "a", "v1", 13, 14), // overlaps v2's put: may still see v1
				get(0, "b", "w1", 14, 15),
				get(1, "a", "v2", 21, 22),
			},
			want: Ok,
		},
		"stale read: an old value after a newer write returned": {
			ops: []Op{
				put(0, "a", "v1", 0, 1),
				put(0, "a", "v2", 2, 3),
				get(1, "a", "v2", 4, 5),
				get(2, "a", "v1", 6, 7),
			},
			want: Illegal,
		},
		"stale read: a read that misses an acknowledged write": {
			ops: []Op{
				put(0, "a", "v1", 0, 1),
				get(1, "a", "", 2, 3),
			},
			want: Illegal,
		},
		"lost write: the key reverts to an earlier value": {
			ops: []Op{
				put(0, "a", "v1", 0, 1),
				get(1, "a", "v1", 2, 3),
				put(0, "a", "v2", 4, 5),
				get(1, "a", "v2", 6, 7),
				get(1, "a", "v1", 8, 9),
			},
			want: Illegal,
		},
		"lost write: an acknowledged write never shows": {
			ops: []Op{
				put(0, "a", "v1", 0, 1),
				get(1, "a", "", 8, 9),
			},
			want: Illegal,
		},
		"failed put that took effect": {
			ops: []Op{
				failed(put(0, "a", "v1", 0, 5)),
				get(1, "a", "v1", 50, 51),
				get(1, "a", "v1", 60, 61),
			},
			want: Ok,
		},
		"failed put that took effect long after its error": {
			ops: []Op{
				failed(put(0, "a", "v1", 0, 5)),
				get(1, "a", "", 10, 11),
				get(1, "a", "v1", 50, 51),
			},
			want: Ok,
		},
		"failed put that never took effect": {
			ops: []Op{
				put(1, "a", "v0", 0, 1),
				failed(put(0, "a", "v1", 2, 5)),
				get(1, "a", "v0", 6, 7),
				get(1, "a", "v0", 60, 61),
			},
			want: Ok,
		},
		"failed put seen, then gone": {
			ops: []Op{
				put(1, "a", "v0", 0, 1),
				failed(put(0, "a", "v1", 2, 5)),
				get(1, "a", "v1", 6, 7),
				get(1, "a", "v0", 8, 9),
			},
			want: Illegal,
		},
		"read of a value before its put was called": {
			ops: []Op{
				get(1, "a", "v1", 0, 1),
				failed(put(0, "a", "v1", 2, 5)),
			},
			want: Illegal,
		},
		"read of a value nobody wrote": {
			ops: []Op{
				put(0, "a", "v1", 0, 1),
				get(1, "a", "x", 2, 3),
			},
			want: Illegal,
		},
		"failed gets say nothing": {
			ops: []Op{
				put(0, "a", "v1", 0, 1),
				failed(get(1, "a", "", 2, 3)),
				get(1, "a", "v1", 4, 5),
			},
			want: Ok,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := Check(tc.ops, 10*time.Second)
			if res.Verdict != tc.want {
				t.Errorf("verdict %q, want %q", res.Verdict, tc.want)
			}
		})
	}
}

func TestResultCountsAndVisualization(t *testing.T) {
	ops := []Op{
		put(0, "a", "v1", 0, 1),
		failed(put(0, "a", "v2", 2, 3)),
		failed(get(1, "a", "", 2, 3)),
		get(1, "a", "v1", 4, 5),
		get(1, "a", "", 6, 7), // lost
	}
	res := Check(ops, 10*time.Second)
	want := "history: 5 ops (2 puts, 3 gets, 2 unknown), linearizable: NOT linearizable"
	if got := res.String(); !strings.HasPrefix(got, want) {
		t.Errorf("summary %q, want it to start with %q", got, want)
	}
	path, err := res.WriteVisualization(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "<html") || !strings.Contains(string(data), "put(a, v1)") {
		t.Errorf("the visualisation lacks the page or the operations (%d bytes)", len(data))
	}
}

// fakeTB records what verify reports.
type fakeTB struct {
	testing.TB
	logs, errs []string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Log(args ...any)                { f.logs = append(f.logs, fmt.Sprint(args...)) }
func (f *fakeTB) Logf(format string, a ...any)   { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Errorf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }

func TestVerifyFailsAndKeepsTheVisualization(t *testing.T) {
	f := &fakeTB{TB: t}
	verify(f, []Op{put(0, "a", "v1", 0, 1), get(1, "a", "", 2, 3)}, 10*time.Second)
	if len(f.errs) != 1 || !strings.Contains(f.errs[0], "NOT linearizable") {
		t.Fatalf("errors %q, want one saying NOT linearizable", f.errs)
	}
	var html, js string
	for _, l := range f.logs {
		if _, rest, ok := strings.Cut(l, "visualisation in "); ok {
			html, js, _ = strings.Cut(rest, ", operations in ")
		}
	}
	if html == "" || js == "" {
		t.Fatalf("logs %q name no files", f.logs)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(html)) })
	for _, p := range []string{html, js} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}

	f = &fakeTB{TB: t}
	verify(f, []Op{put(0, "a", "v1", 0, 1), get(1, "a", "v1", 2, 3)}, 10*time.Second)
	if len(f.errs) != 0 || len(f.logs) != 1 || !strings.Contains(f.logs[0], "linearizable: ok ") {
		t.Errorf("a linearizable history: errors %q, logs %q; want one line ending in ok", f.errs, f.logs)
	}
}
