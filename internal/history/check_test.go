package history

import (
	"os"
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
