package plan

import (
	"testing"

	"github.com/etcdform/etcdform/schema"
)

func TestCompactRevision(t *testing.T) {
	tests := []struct {
		mode, retention string
		forced          bool
		want            int64
	}{
		{"periodic", "0s", false, 1000},
		{"periodic", "0s", true, 1000},
		{"periodic", "1h0m0s", false, 0},
		{"periodic", "1h0m0s", true, 1000},
		{"revision", "0", false, 1000},
		{"revision", "300", true, 700},
		{"revision", "300", false, 700},
		{"revision", "5000", true, 0},
	}
	for _, tc := range tests {
		got, why := compactRevision(schema.Compaction{Mode: tc.mode, Retention: tc.retention}, 1000, tc.forced)
		if got != tc.want || (got > 0) != (why != "") {
			t.Errorf("%s %s forced=%v: %d (%q), want %d", tc.mode, tc.retention, tc.forced, got, why, tc.want)
		}
	}
}
