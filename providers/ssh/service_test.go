package ssh_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

// runsvdir supervises the services under a temp directory until the test
// ends. Each service is created down, with the given run script.
func runsvdir(t *testing.T, services map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("runsvdir"); err != nil {
		t.Skip("runit not installed")
	}
	// Not t.TempDir: runsv processes may still be writing supervise/ for a
	// moment after runsvdir exits, so removal is retried below.
	svdir, err := os.MkdirTemp("", "runsvdir-")
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range services {
		dir := filepath.Join(svdir, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "run"), []byte(run), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "down"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("runsvdir", svdir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for name := range services {
			dir := filepath.Join(svdir, name)
			_ = exec.Command("sv", "down", dir).Run()
			_ = exec.Command("sv", "kill", dir).Run()
			_ = exec.Command("sv", "exit", dir).Run()
		}
		_ = cmd.Process.Signal(syscall.SIGHUP) // runsvdir passes TERM to each runsv and exits
		_ = cmd.Wait()
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := os.RemoveAll(svdir)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("removing %s: %v", svdir, err)
				return
			}
			time.Sleep(50 * time.Millisecond) // poll until the runsv processes are gone
		}
	})
	return svdir
}

// pid is the pid runsv reports for the service, 0 when down.
func pid(t *testing.T, serviceDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(serviceDir, "supervise", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func wantState(t *testing.T, m sshp.ServiceManager, want sshp.State) {
	t.Helper()
	got, err := m.State(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("State = %q, want %q", got, want)
	}
}

func TestRunit(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	svdir := runsvdir(t, map[string]string{
		"etcd":     "#!/bin/sh\nexec sleep 1000\n",
		"stubborn": "#!/bin/sh\ntrap '' TERM\nexec sleep 1000\n", // ignores TERM, as a slow etcd would
	})
	m, err := sshp.NewServiceManager(c, "runit", filepath.Join(svdir, "etcd"), sshp.Commands{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// runsv needs a moment to set up supervise/; until then sv fails.
	waitFor(t, func() bool { _, err := m.State(ctxFor(t)); return err == nil })
	wantState(t, m, sshp.StateStopped)

	if err := m.Start(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	wantState(t, m, sshp.StateRunning)
	first := pid(t, filepath.Join(svdir, "etcd"))

	if err := m.Restart(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	// Restart does not wait for the up (callers gate on health): poll.
	waitFor(t, func() bool { st, err := m.State(ctxFor(t)); return err == nil && st == sshp.StateRunning })
	if second := pid(t, filepath.Join(svdir, "etcd")); second == first {
		t.Errorf("Restart kept pid %s", first)
	}

	if err := m.Stop(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	wantState(t, m, sshp.StateStopped)

	// A service that outlives the stop timeout is an error naming the host.
	s := &sshp.Runit{Client: c, Dir: svdir, Name: "stubborn", StopTimeout: time.Second}
	waitFor(t, func() bool { _, err := s.State(ctxFor(t)); return err == nil })
	if err := s.Start(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	err = s.Stop(ctxFor(t))
	if err == nil {
		t.Fatal("Stop of a service ignoring TERM succeeded")
	}
	for _, want := range []string{c.Addr(), "sv down", "timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	wantState(t, s, sshp.StateRunning)
}

// TestRunitStopAndStartACrashLoop stops a service that runit restarts over
// and over (as it does a removed etcd, which exits by itself), then starts
// it with a good run script, three times. runsv sleeps a second after each
// short-lived process and reads control bytes one per turn: Stop must
// leave runit wanting the service down (not only without a process), and
// Start must bring it up even when a stop sent in that sleep is read after
// it (CI: "sv up: timeout: down: 20s, normally up").
func TestRunitStopAndStartACrashLoop(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	const crash = "#!/bin/sh\necho x >>starts\nsleep 0.1\nexit 1\n"
	svdir := runsvdir(t, map[string]string{"flappy": crash})
	dir := filepath.Join(svdir, "flappy")
	m := &sshp.Runit{Client: c, Dir: svdir, Name: "flappy", StopTimeout: 5 * time.Second}
	waitFor(t, func() bool { _, err := m.State(ctxFor(t)); return err == nil })
	starts := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "starts"))
		return strings.Count(string(b), "x")
	}
	for round := range 3 {
		if err := os.WriteFile(filepath.Join(dir, "run"), []byte(crash), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("sv", "up", dir).Run(); err != nil {
			t.Fatal(err)
		}
		// Crash-looping: started at least twice since this round began.
		n := starts()
		waitFor(t, func() bool { return starts() >= n+2 })
		// Stop in runsv's second of sleep after a crash.
		waitFor(t, func() bool {
			out, _ := exec.Command("sv", "status", dir).Output()
			return strings.HasPrefix(string(out), "down:") && strings.Contains(string(out), "want up")
		})
		if err := m.Stop(ctxFor(t)); err != nil {
			t.Fatalf("round %d: Stop: %v", round, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "supervise", "status"))
		if err != nil || len(b) < 20 {
			t.Fatalf("round %d: supervise/status: %q, %v", round, b, err)
		}
		if b[17] != 'd' {
			out, _ := exec.Command("sv", "status", dir).CombinedOutput()
			t.Fatalf("round %d: after Stop runit wants the service %q (%s), want down", round, b[17], out)
		}
		wantState(t, m, sshp.StateStopped)
		if err := os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(ctxFor(t)); err != nil {
			t.Fatalf("round %d: Start after stopping a crash loop: %v", round, err)
		}
		wantState(t, m, sshp.StateRunning)
		if err := m.Stop(ctxFor(t)); err != nil {
			t.Fatalf("round %d: Stop of the running service: %v", round, err)
		}
	}
}

func TestRunitNotSupervised(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	m := &sshp.Runit{Client: c, Dir: t.TempDir(), Name: "etcd"}
	st, err := m.State(ctxFor(t))
	if err == nil || st != sshp.StateUnknown || !strings.Contains(err.Error(), c.Addr()) {
		t.Errorf("State of an unsupervised service = %q, %v; want unknown and an error naming the host", st, err)
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	flag, log := filepath.Join(dir, "running"), filepath.Join(dir, "log")
	m, err := sshp.NewServiceManager(c, "command", "etcd", sshp.Commands{
		Start:  "echo start >> " + log + "; touch " + flag,
		Stop:   "echo stop >> " + log + "; rm -f " + flag,
		Status: "test -e " + flag,
	}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, m, sshp.StateStopped)
	ctx := ctxFor(t)
	steps := []struct {
		op   func(context.Context) error
		want sshp.State
	}{
		{m.Start, sshp.StateRunning},
		{m.Restart, sshp.StateRunning}, // no restart command: stop, then start
		{m.Stop, sshp.StateStopped},
	}
	for _, s := range steps {
		if err := s.op(ctx); err != nil {
			t.Fatal(err)
		}
		wantState(t, m, s.want)
	}
	b, _ := os.ReadFile(log)
	if diff := cmp.Diff("start\nstop\nstart\nstop\n", string(b)); diff != "" {
		t.Errorf("commands run (-want +got):\n%s", diff)
	}
}

func TestCommandStopWaits(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	flag := filepath.Join(dir, "running")
	tests := map[string]struct {
		stop    string
		timeout time.Duration
		wantErr string
	}{
		// The service goes down a while after the stop command returns.
		"slow stop": {stop: "(sleep 0.5; rm -f " + flag + ") >/dev/null 2>&1 </dev/null &", timeout: 10 * time.Second},
		"never stops": {stop: "true", timeout: 300 * time.Millisecond,
			wantErr: "not stopped 300ms after the stop command: status says running"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(flag, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			m := &sshp.Command{Client: c, Cmds: sshp.Commands{Start: "true", Stop: tc.stop, Status: "test -e " + flag}, StopTimeout: tc.timeout}
			err := m.Stop(ctxFor(t))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				wantState(t, m, sshp.StateStopped)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), c.Addr()) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, c.Addr(), tc.wantErr)
			}
		})
	}
}

func TestCommandState(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	tests := map[string]struct {
		status  string
		want    sshp.State
		wantErr bool
	}{
		"running":       {"exit 0", sshp.StateRunning, false},
		"stopped":       {"exit 3", sshp.StateStopped, false},
		"no status":     {"", sshp.StateUnknown, false},
		"status broken": {"no-such-status-command-etcdform", sshp.StateUnknown, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := &sshp.Command{Client: c, Cmds: sshp.Commands{Status: tc.status}}
			got, err := m.State(ctxFor(t))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("State = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNewServiceManager(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	cmds := sshp.Commands{Start: "a", Stop: "b"}
	tests := map[string]struct {
		manager, name string
		cmds          sshp.Commands
		want          string // %T and the interesting fields, or the error
	}{
		"systemd":          {"systemd", "etcd", sshp.Commands{}, "*ssh.Systemd etcd"},
		"runit":            {"runit", "etcd", sshp.Commands{}, "*ssh.Runit /etc/service/etcd 15s"},
		"runit absolute":   {"runit", "/srv/sv/etcd", sshp.Commands{}, "*ssh.Runit /srv/sv/etcd 15s"},
		"command":          {"command", "", cmds, "*ssh.Command a b 15s"},
		"unknown":          {"upstart", "etcd", sshp.Commands{}, `error: ssh ` + c.Addr() + `: unknown service manager "upstart": use systemd, runit or command`},
		"command, no stop": {"command", "", sshp.Commands{Start: "a"}, "error: ssh " + c.Addr() + ": command service manager needs start and stop commands"},
		"systemd, no name": {"systemd", "", sshp.Commands{}, "error: ssh " + c.Addr() + ": systemd service manager needs a service name"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := sshp.NewServiceManager(c, tc.manager, tc.name, tc.cmds, 0)
			var got string
			switch m := m.(type) {
			case *sshp.Systemd:
				got = "*ssh.Systemd " + m.Name
			case *sshp.Runit:
				got = "*ssh.Runit " + m.ServiceDir() + " " + m.StopTimeout.String()
			case *sshp.Command:
				got = "*ssh.Command " + m.Cmds.Start + " " + m.Cmds.Stop + " " + m.StopTimeout.String()
			}
			if err != nil {
				got = "error: " + err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
