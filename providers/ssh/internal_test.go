package ssh

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sh runs script with the local /bin/sh and returns its stdout.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	return string(out)
}

func TestQuote(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"empty":        {"", "''"},
		"safe":         {"/etc/etcd/etcd.conf.yml", "/etc/etcd/etcd.conf.yml"},
		"space":        {"a b", "'a b'"},
		"single quote": {"it's", `'it'\''s'`},
		"specials":     {"$(rm -rf /); `x` \"y\" \\ * ? ~ & | > <\n", "'$(rm -rf /); `x` \"y\" \\ * ? ~ & | > <\n'"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Quote(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Quote(%q) (-want +got):\n%s", tc.in, diff)
			}
			// The real shell must read it back as the one word it was.
			if diff := cmp.Diff(tc.in, sh(t, "printf %s "+got)); diff != "" {
				t.Errorf("shell round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSudoCommand(t *testing.T) {
	// A stand-in sudo that checks -n and runs the rest, so the quoting of
	// compound commands is checked by a real shell.
	const fakeSudo = `sudo() { [ "$1" = -n ] || exit 99; shift; "$@"; }; `
	tests := map[string]struct {
		cmd, want string
	}{
		"simple":   {"echo hi", "hi\n"},
		"pipeline": {"echo 'a b' | tr a-z A-Z", "A B\n"},
		"compound": {`x="it's"; echo "$x" && echo done`, "it's\ndone\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, sh(t, fakeSudo+sudoCommand(tc.cmd))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := map[string]struct {
		out  string
		want string
		ok   bool
	}{
		"etcd":        {"etcd Version: 3.6.16\nGit SHA: 1a2b3c\nGo Version: go1.24.4\n", "3.6.16", true},
		"etcdctl":     {"etcdctl version: 3.5.9\nAPI version: 3.5\n", "3.5.9", true},
		"v prefix":    {"etcd Version: v3.4.0\n", "3.4.0", true},
		"no version":  {"usage: etcd [flags]\n", "", false},
		"empty":       {"", "", false},
		"empty value": {"etcd Version:\n", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := parseVersion(tc.out)
			if diff := cmp.Diff(tc.want, got); diff != "" || ok != tc.ok {
				t.Errorf("parseVersion(%q) = %q, %v; want %q, %v", tc.out, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRunitState(t *testing.T) {
	tests := map[string]struct {
		out  string
		want State
		ok   bool
	}{
		"run":         {"run: /etc/service/etcd: (pid 123) 45s\n", StateRunning, true},
		"run and log": {"run: etcd: (pid 123) 45s; run: log: (pid 120) 50s\n", StateRunning, true},
		"down":        {"down: /etc/service/etcd: 3s, normally up\n", StateStopped, true},
		"finish":      {"finish: etcd: (pid 123) 1s\n", StateStopped, true},
		"no runsv":    {"warning: etcd: unable to open supervise/ok: file does not exist\n", StateUnknown, false},
		"fail":        {"fail: etcd: runsv not running\n", StateUnknown, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := runitState(tc.out)
			if got != tc.want || ok != tc.ok {
				t.Errorf("runitState(%q) = %q, %v; want %q, %v", tc.out, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tests := map[string]struct {
		out     string
		want    FileStat
		wantErr bool
	}{
		"regular 0640": {"81a0 0 998 12\n", FileStat{Exists: true, Mode: 0o640, GID: 998, Size: 12}, false},
		"dir 0755":     {"41ed 1000 1000 4096\n", FileStat{Exists: true, Mode: os.ModeDir | 0o755, UID: 1000, GID: 1000, Size: 4096}, false},
		"setuid":       {"89ed 0 0 1\n", FileStat{Exists: true, Mode: os.ModeSetuid | 0o755, Size: 1}, false},
		"garbage":      {"stat: oops\n", FileStat{}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseStat(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestChmodBits(t *testing.T) {
	tests := map[string]struct {
		in   os.FileMode
		want string
	}{
		"0600":   {0o600, "0600"},
		"setgid": {os.ModeSetgid | 0o750, "2750"},
		"sticky": {os.ModeSticky | os.ModeDir | 0o777, "1777"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, chmodBits(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// fakeRunner answers every command with one result and records commands.
type fakeRunner struct {
	stdout string
	code   int
	cmds   []string
}

func (f *fakeRunner) Run(_ context.Context, cmd string) ([]byte, []byte, int, error) {
	f.cmds = append(f.cmds, cmd)
	return []byte(f.stdout), nil, f.code, nil
}

func (f *fakeRunner) Addr() string { return "host.example:22" }

// scriptRunner answers each command by its first word after any
// "systemctl"/"sv" (is-active, show, status, test) and records commands.
type scriptRunner struct {
	answers map[string]fakeRunner // by command prefix
	cmds    []string
}

func (f *scriptRunner) Run(_ context.Context, cmd string) ([]byte, []byte, int, error) {
	f.cmds = append(f.cmds, cmd)
	for prefix, a := range f.answers {
		if strings.HasPrefix(cmd, prefix) {
			return []byte(a.stdout), nil, a.code, nil
		}
	}
	return nil, []byte("unexpected command"), 127, nil
}

func (f *scriptRunner) Addr() string { return "host.example:22" }

func TestSystemd(t *testing.T) {
	const isActive, show = "systemctl is-active etcd", "systemctl show -p LoadState etcd"
	tests := map[string]struct {
		stdout  string
		code    int
		load    string // systemctl show's answer
		want    State
		missing bool
	}{
		"active":       {stdout: "active\n", want: StateRunning},
		"reloading":    {stdout: "reloading\n", want: StateRunning},
		"inactive":     {stdout: "inactive\n", code: 3, load: "LoadState=loaded\n", want: StateStopped},
		"failed":       {stdout: "failed\n", code: 3, load: "LoadState=loaded\n", want: StateStopped},
		"activating":   {stdout: "activating\n", code: 3, want: StateUnknown},
		"deactivating": {stdout: "deactivating\n", code: 3, want: StateUnknown},
		"no such unit": {stdout: "inactive\n", code: 3, load: "LoadState=not-found\n", want: StateUnknown, missing: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := &scriptRunner{answers: map[string]fakeRunner{isActive: {stdout: tc.stdout, code: tc.code}, show: {stdout: tc.load}}}
			got, err := (&Systemd{Client: f, Name: "etcd"}).State(context.Background())
			if tc.missing != errors.Is(err, ErrServiceNotFound) || (!tc.missing && err != nil) {
				t.Fatalf("State error = %v, want ErrServiceNotFound: %v", err, tc.missing)
			}
			if got != tc.want {
				t.Errorf("State = %q, want %q", got, tc.want)
			}
			want := []string{isActive}
			if tc.load != "" {
				want = append(want, show)
			}
			if diff := cmp.Diff(want, f.cmds); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

// A runit service whose directory is missing is reported as not found;
// any other failure of sv status stays an ordinary error.
func TestRunitNotFound(t *testing.T) {
	const status, test = "sv status /etc/service/etcd", "test -d /etc/service/etcd"
	failing := fakeRunner{stdout: "warning: /etc/service/etcd: unable to change to service directory: file does not exist\n", code: 1}
	for name, tc := range map[string]struct {
		dirCode int
		missing bool
	}{"no directory": {1, true}, "directory there": {0, false}} {
		t.Run(name, func(t *testing.T) {
			f := &scriptRunner{answers: map[string]fakeRunner{status: failing, test: {code: tc.dirCode}}}
			st, err := (&Runit{Client: f, Name: "etcd"}).State(context.Background())
			if err == nil || st != StateUnknown || errors.Is(err, ErrServiceNotFound) != tc.missing {
				t.Fatalf("State = %q, %v; want unknown, not found: %v", st, err, tc.missing)
			}
		})
	}
}

func TestSystemdVerbs(t *testing.T) {
	f := &fakeRunner{}
	s := &Systemd{Client: f, Name: "etcd member.service"}
	ctx := context.Background()
	for _, op := range []func(context.Context) error{s.Start, s.Stop, s.Restart} {
		if err := op(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"systemctl start 'etcd member.service'",
		"systemctl stop 'etcd member.service'",
		"systemctl restart 'etcd member.service'",
	}
	if diff := cmp.Diff(want, f.cmds); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}

	f.code, f.stdout = 1, "Job for etcd.service failed."
	err := s.Start(ctx)
	if err == nil {
		t.Fatal("Start with systemctl failing: no error")
	}
	if got := err.Error(); got != "ssh host.example:22: systemctl start etcd member.service: exit status 1: Job for etcd.service failed." {
		t.Errorf("error = %q", got)
	}
}

func TestParseServiceProcess(t *testing.T) {
	stat := "4242 (etcd (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 9 0 123456 1000 10"
	tests := map[string]struct {
		out     string
		want    ServiceProcess
		wantErr bool
	}{
		"running": {
			out: "pid 4242\nstat " + stat + "\nmtime 1700000100.250000000\nuptime 2000.50\nnow 1700000500.000000001\ntck 100\n",
			// boot = now - uptime = 1700000500.000000001 - 2000.5; start = boot + 1234.56
			want: ServiceProcess{PID: 4242, Start: time.Unix(1700000500, 1).Add(-2000500*time.Millisecond + 1234560*time.Millisecond).UTC(),
				FileModTime: time.Unix(1700000100, 250000000).UTC()},
		},
		"down":                  {out: "pid \nmtime 1700000100.5\nuptime 1.00\nnow 1700000500.0\ntck 100\n", want: ServiceProcess{FileModTime: time.Unix(1700000100, 500000000).UTC()}},
		"ended in between":      {out: "pid 12\nstat \nmtime \nuptime 1.00\nnow 1700000500.0\ntck 100\n", want: ServiceProcess{PID: 12}},
		"no file, manager zero": {out: "pid 0\nmtime \n", want: ServiceProcess{}},
		"garbled stat":          {out: "pid 12\nstat 12 etcd S\nuptime 1\nnow 1\ntck 100\n", wantErr: true},
		"date without %N":       {out: "pid \nmtime 1700000100.N\n", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseServiceProcess(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPIDCommand(t *testing.T) {
	f := &fakeRunner{}
	tests := map[string]struct {
		mgr  ServiceManager
		out  string // what the manager prints
		want string
	}{
		"systemd":        {&Systemd{Client: f, Name: "etcd"}, "MainPID=321\n", "321\n"},
		"systemd, down":  {&Systemd{Client: f, Name: "etcd"}, "MainPID=0\n", "0\n"},
		"runit":          {&Runit{Client: f, Name: "etcd"}, "run: /etc/service/etcd: (pid 123) 45s; run: log: (pid 9) 50s\n", "123\n"},
		"runit, down":    {&Runit{Client: f, Name: "etcd"}, "down: /etc/service/etcd: 3s, normally up\n", ""},
		"runit, finish":  {&Runit{Client: f, Name: "etcd"}, "finish: /etc/service/etcd: (pid 77) 0s\n", ""},
		"command, blind": {&Command{Client: f}, "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pc := pidCommand(tc.mgr)
			if pc == "" {
				if tc.want != "" {
					t.Fatal("no PID command")
				}
				return
			}
			// Replace the manager's query by its canned output; keep the
			// shell's parsing of it.
			query, filter, ok := strings.Cut(pc, " 2>/dev/null); ")
			if !ok || !strings.HasPrefix(query, "s=$(") {
				t.Fatalf("PID command %q: want s=$(QUERY 2>/dev/null); FILTER", pc)
			}
			got := sh(t, "s=$(printf '%s' "+Quote(tc.out)+"); "+filter)
			if got != tc.want {
				t.Errorf("PID = %q, want %q", got, tc.want)
			}
		})
	}
}
