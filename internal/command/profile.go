package command

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// profileVar names a file for a CPU profile of the whole run, and
// allocsVar one for the profile of its allocations (written at the end),
// for measuring etcdform's own CPU time (docs/fleet.md, "The starting
// heap"); unset, nothing is profiled.
const (
	profileVar = "ETCDFORM_CPUPROFILE"
	allocsVar  = "ETCDFORM_ALLOCSPROFILE"
)

// startProfile starts the CPU profile ETCDFORM_CPUPROFILE asks for and
// returns the function that writes it out. A profile that cannot start is
// a warning: it never changes what the command does.
func startProfile(getenv func(string) string, stderr io.Writer) (stop func()) {
	cpu := startCPUProfile(getenv(profileVar), stderr)
	allocs := getenv(allocsVar)
	return func() {
		cpu()
		if allocs == "" {
			return
		}
		// The profile holds what was allocated up to the last
		// collection: collect, so that it holds the whole run.
		runtime.GC()
		f, err := os.Create(allocs)
		if err == nil {
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "Warning: %s: %v\n", allocsVar, err)
		}
	}
}

func startCPUProfile(path string, stderr io.Writer) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "Warning: %s: no CPU profile: %v\n", profileVar, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "Warning: %s: %v\n", profileVar, err)
		}
	}
}
