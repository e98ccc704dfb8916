package ssh_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

// TestServiceProcess reads a real runit service's process start and a
// file's modification time over real SSH: a file written after the start
// is newer, and after a restart the process is newer than the file.
func TestServiceProcess(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	svdir := runsvdir(t, map[string]string{"etcd": "#!/bin/sh\nexec sleep 1000\n"})
	m, err := sshp.NewServiceManager(c, "runit", filepath.Join(svdir, "etcd"), sshp.Commands{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := m.State(ctxFor(t)); return err == nil })
	file := filepath.Join(t.TempDir(), "etcd.conf.yml")

	// Down, no file: nothing known.
	sp, err := c.ServiceProcess(ctxFor(t), m, file, "")
	if err != nil {
		t.Fatal(err)
	}
	if sp != (sshp.ServiceProcess{}) {
		t.Errorf("down service, no file: %+v, want zero", sp)
	}

	if err := m.Start(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st, err := m.State(ctxFor(t)); return err == nil && st == sshp.StateRunning })
	sp, err = c.ServiceProcess(ctxFor(t), m, file, "")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := strconv.Atoi(pid(t, filepath.Join(svdir, "etcd"))); sp.PID != want || sp.PID == 0 {
		t.Errorf("PID = %d, want %d (runsv's)", sp.PID, want)
	}
	// The start is on this machine's clock: between a moment before the
	// service was started and now, within the clock-tick grain.
	if sp.Start.IsZero() || sp.Start.After(time.Now().Add(time.Second)) || sp.Start.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("Start = %s, now %s", sp.Start, time.Now())
	}

	// The process runs sleep: its own file, through any path to it, but
	// not a copy of it.
	sleep, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(sp.PID), "exe"))
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "sleep")
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "sleep-link")
	if err := os.Symlink(sleep, link); err != nil {
		t.Fatal(err)
	}
	for bin, want := range map[string]bool{sleep: true, link: true, cp: false, file: false} {
		got, err := c.ServiceProcess(ctxFor(t), m, file, bin)
		if err != nil {
			t.Fatal(err)
		}
		if got.RunsBinary != want {
			t.Errorf("RunsBinary for %s = %v, want %v", bin, got.RunsBinary, want)
		}
	}

	// A file written later is newer than the process.
	later := sp.Start.Add(10 * time.Second)
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	sp2, err := c.ServiceProcess(ctxFor(t), m, file, "")
	if err != nil {
		t.Fatal(err)
	}
	if !sp2.FileModTime.Equal(later) {
		t.Errorf("FileModTime = %s, want %s", sp2.FileModTime, later)
	}
	// The start is derived from /proc/uptime and the host's clock, read in
	// one command; on a loaded machine the two reads can be tens of
	// milliseconds apart (CI saw 24 ms). The planner allows a second
	// (state.ClockSlack), so a quarter of that is the bound that matters.
	if d := sp2.Start.Sub(sp.Start); d < -250*time.Millisecond || d > 250*time.Millisecond {
		t.Errorf("the same process's start moved by %s between two readings", d)
	}

	// After a restart the process starts after a file written before it.
	before := time.Now().Add(-time.Second)
	if err := os.Chtimes(file, before, before); err != nil {
		t.Fatal(err)
	}
	if err := m.Restart(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	sp3, err := c.ServiceProcess(ctxFor(t), m, file, "")
	if err != nil {
		t.Fatal(err)
	}
	if sp3.PID == sp.PID || !sp3.Start.After(before) {
		t.Errorf("after restart: %+v, want a new PID started after %s", sp3, before)
	}
}
