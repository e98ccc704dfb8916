package ssh

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ServiceProcess is when the main process of a service started, and when a
// file it reads at start (etcd's config file) was last modified, both read
// on the host in one round trip.
type ServiceProcess struct {
	// PID is the main process as the service manager reports it; 0 when
	// it reports none (the service is down, or the manager cannot tell).
	PID int
	// Start is when that process started, on the host's clock; zero when
	// PID is 0 or /proc has no entry for it.
	Start time.Time
	// FileModTime is the file's modification time; zero when the file is
	// absent.
	FileModTime time.Time
	// RunsBinary: the process runs the binary asked about, the file at
	// that path as it is now (the same inode: a file replaced since the
	// process started is another, and a running executable cannot be
	// written in place). Then its version is the one the process reports.
	RunsBinary bool
}

// processScript prints the facts ServiceProcess parses. $1 is the file,
// $2 the binary ("" for none); the PID command is spliced in (it quotes
// its own words). The process's
// start is read from /proc/PID/stat (clock ticks since boot) and turned
// into wall-clock time with /proc/uptime and the current time, read back
// to back, so the boot time's whole-second rounding in /proc/stat does not
// enter.
const processScript = `pid=$(%s)
printf 'pid %%s\n' "$pid"
case "$pid" in ''|0|*[!0-9]*) ;; *)
  st=; read -r st 2>/dev/null </proc/$pid/stat; printf 'stat %%s\n' "$st"
  if [ -n "$2" ] && [ /proc/$pid/exe -ef "$2" ]; then echo 'exe same'; fi ;;
esac
printf 'mtime %%s\n' "$(date -r "$1" +%%s.%%N 2>/dev/null)"
read -r up idle </proc/uptime; printf 'uptime %%s\n' "$up"
printf 'now %%s\n' "$(date +%%s.%%N)"
printf 'tck %%s\n' "$(getconf CLK_TCK)"
`

// pidCommand is a shell command that prints the service's main PID (or
// nothing), or "" when the manager cannot tell: a "command" manager runs
// whatever its commands run.
func pidCommand(mgr ServiceManager) string {
	switch m := mgr.(type) {
	case *Systemd:
		// "MainPID=123", parsed by the shell rather than sed: an exec less.
		return `s=$(systemctl show -p MainPID ` + Quote(m.Name) + ` 2>/dev/null); case "$s" in (MainPID=*) echo "${s#MainPID=}" ;; esac`
	case *Runit:
		// "run: /etc/service/etcd: (pid 123) 45s; run: log: (pid 9) 50s":
		// the digits after the first "(pid ", when the line starts with
		// "run: " and no parenthesis opens before it.
		return `s=$(sv status ` + Quote(m.ServiceDir()) + ` 2>/dev/null); case "$s" in ("run: "*) r=${s#"${s%%(*}"}; case "$r" in ("(pid "*) r=${r#"(pid "}; r=${r%%)*}; case "$r" in (""|*[!0-9]*) ;; (*) echo "$r" ;; esac ;; esac ;; esac`
	}
	return ""
}

// ServiceProcess asks mgr for its main process and returns when it
// started, with the modification time of file, and whether it runs binary
// (not asked when ""). A manager that cannot name its process gives PID 0
// and no error. Errors are transport failures and
// output that is not understood.
func (c *Client) ServiceProcess(ctx context.Context, mgr ServiceManager, file, binary string) (ServiceProcess, error) {
	pc := pidCommand(mgr)
	if pc == "" {
		pc = "true"
	}
	out, errb, code, err := c.script(ctx, fmt.Sprintf(processScript, pc), nil, file, binary)
	if err != nil {
		return ServiceProcess{}, err
	}
	if code != 0 {
		return ServiceProcess{}, c.cmdError("reading the service's process start", code, errb)
	}
	sp, err := parseServiceProcess(string(out))
	if err != nil {
		return ServiceProcess{}, fmt.Errorf("ssh %s: reading the service's process start: %w", c.addr, err)
	}
	return sp, nil
}

// parseServiceProcess parses processScript's output.
func parseServiceProcess(out string) (ServiceProcess, error) {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, " ")
		if k != "" {
			kv[k] = strings.TrimSpace(v)
		}
	}
	var sp ServiceProcess
	if kv["mtime"] != "" {
		t, err := parseUnixDecimal(kv["mtime"])
		if err != nil {
			return sp, fmt.Errorf("file time %q: %w", kv["mtime"], err)
		}
		sp.FileModTime = t
	}
	if kv["pid"] == "" || kv["pid"] == "0" {
		return sp, nil
	}
	pid, err := strconv.Atoi(kv["pid"])
	if err != nil || pid < 0 {
		return sp, fmt.Errorf("unexpected PID %q", kv["pid"])
	}
	sp.PID = pid
	sp.RunsBinary = kv["exe"] == "same"
	if kv["stat"] == "" {
		return sp, nil // the process ended in between
	}
	ticks, err := statStartTime(kv["stat"])
	if err != nil {
		return sp, err
	}
	now, err1 := parseUnixDecimal(kv["now"])
	uptime, err2 := parseSeconds(kv["uptime"])
	tck, err3 := strconv.ParseInt(kv["tck"], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || tck <= 0 {
		return sp, fmt.Errorf("unexpected clock readings (now %q, uptime %q, CLK_TCK %q)", kv["now"], kv["uptime"], kv["tck"])
	}
	sinceBoot := time.Duration(ticks) * time.Second / time.Duration(tck)
	sp.Start = now.Add(sinceBoot - uptime)
	return sp, nil
}

// statStartTime returns field 22 of /proc/PID/stat, the start time in
// clock ticks since boot. Field 2 (the command name, in parentheses) may
// hold spaces and parentheses, so fields are counted after the last ')'.
func statStartTime(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/PID/stat %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	const field = 22 - 3 // fields after ')' start at field 3
	if len(f) <= field {
		return 0, fmt.Errorf("unexpected /proc/PID/stat %q", stat)
	}
	n, err := strconv.ParseInt(f[field], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected start time in /proc/PID/stat %q", stat)
	}
	return n, nil
}

// parseUnixDecimal parses "SECONDS.FRACTION" since the epoch.
func parseUnixDecimal(s string) (time.Time, error) {
	d, err := parseSeconds(s)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, 0).Add(d).UTC(), nil
}

// parseSeconds parses "SECONDS[.FRACTION]" into a duration, exactly (no
// float rounding).
func parseSeconds(s string) (time.Duration, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a number of seconds: %q", s)
	}
	d := time.Duration(n) * time.Second
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("not a number of seconds: %q", s)
		}
		d += time.Duration(f)
	}
	return d, nil
}
