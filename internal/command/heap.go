package command

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// startingHeapGoal is the heap a run may reach before its first garbage
// collection (see startingHeap).
const startingHeapGoal = 32 << 20

// minHeap is the runtime's smallest heap goal at GOGC=100: it scales with
// the GC percent.
const minHeap = 4 << 20

// startingHeap lets the heap grow to about goal before the collector runs,
// then gives the collector back to GOGC=100 once the live heap is half of
// goal; cmd/compile does the same (AdjustStartingHeap). An etcdform run is
// short and its live heap small (a few MB for 20 clusters), so at the
// default GOGC the collector ran every 4 MB allocated, scanning the stacks
// of every SSH and gRPC goroutine each time: 6-12% of a 20-cluster plan's
// CPU (docs/fleet.md, "The starting heap"). The price is about goal bytes
// of heap more than GOGC=100 would keep (a little more: the runtime's goal
// also counts the goroutine stacks and globals it scans). A GOGC or
// GOMEMLIMIT in the environment is the operator's choice and is left
// alone. stop ends the adjustments (the GC percent stays as it is).
func startingHeap(getenv func(string) string, goal uint64) (stop func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	var stopped atomic.Bool
	var adjust func()
	adjust = func() {
		if stopped.Load() {
			return
		}
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		var live uint64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		p := gcPercentFor(goal, live)
		debug.SetGCPercent(p)
		if p > 100 {
			// Run adjust again after the next collection: the cleanup
			// of an object nothing refers to runs after the collection
			// that finds it unreachable (32 bytes: not a tiny
			// allocation, whose block other objects may keep alive).
			runtime.AddCleanup(new([32]byte), func(struct{}) { adjust() }, struct{}{})
		}
	}
	adjust()
	return func() { stopped.Store(true) }
}

// gcPercentFor is the GC percent that puts the next heap goal at goal
// given the live heap (0 before the first collection): live×(1+p/100),
// and at least the minimum heap, which scales with p; 100 once live is
// half of goal.
func gcPercentFor(goal, live uint64) int {
	p := 100 * goal / minHeap // the minimum heap alone reaches goal
	if live > 0 && live < goal/2 {
		p = min(p, 100*goal/live-100)
	} else if live > 0 {
		p = 100
	}
	return int(max(p, 100))
}
