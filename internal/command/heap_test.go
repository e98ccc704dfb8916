package command

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestGCPercentFor: before the first collection the minimum heap alone
// reaches the goal; after it, live×(1+p/100) does, and GOGC is back at
// 100 once the live heap is half of the goal.
func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 800},
		{1 * mib, 800},  // live×9 = 9 MiB, under the minimum heap of 32 MiB
		{4 * mib, 700},  // 4 MiB × 8 = 32 MiB
		{10 * mib, 220}, // 10 MiB × 3.2 = 32 MiB
		{16 * mib, 100},
		{100 * mib, 100},
	} {
		if got := gcPercentFor(32*mib, c.live); got != c.want {
			t.Errorf("live %d MiB: GC percent %d, want %d", c.live/mib, got, c.want)
		}
	}
}

// TestStartingHeap: the GC percent is raised and adjusted no more after
// stop, and a GOGC or GOMEMLIMIT in the environment is left alone.
func TestStartingHeap(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	startingHeap(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}, startingHeapGoal)
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("with GOGC set: GC percent %d, want it left at 100", p)
	}
	stop := startingHeap(func(string) string { return "" }, 1<<30)
	stop() // before the next collection re-arms it for the rest of the package's tests
	if p := debug.SetGCPercent(100); p <= 100 {
		t.Errorf("GC percent %d, want it raised", p)
	}
	runtime.GC()
	runtime.GC()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after stop and two collections: GC percent %d, want 100 (no adjustment after stop)", p)
	}
	startingHeap(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}, startingHeapGoal)()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("with GOMEMLIMIT set: GC percent %d, want it left at 100", p)
	}
}
