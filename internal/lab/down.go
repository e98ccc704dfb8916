package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Down removes every namespace, process and bridge of the lab in dir, and
// the files the lab wrote there. It also works when state.json is gone,
// by finding the lab's objects by their name prefix.
//
// Down acts only on what belongs to the lab in dir: kernel objects whose
// names carry the prefix derived from dir (namespaces, the processes the
// kernel shows inside them, the bridge and the veths), and the files lab
// up writes, by their fixed names inside dir. It never takes a name or a
// path from state.json, and refuses (changing nothing) when state.json
// describes another directory: the original of a copied lab directory,
// or a crafted file (Load).
func Down(ctx context.Context, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	prefix, err := Prefix(abs)
	if err != nil {
		return err
	}
	st, err := Load(abs)
	if err != nil && !errors.Is(err, ErrNotUp) {
		return err
	}
	if st == nil && len(leftoverNetns(prefix)) == 0 && !linkExists(prefix+"br") {
		return ErrNotUp
	}
	if err := cleanup(ctx, prefix); err != nil {
		return err
	}
	if st == nil {
		return nil
	}
	return removeFiles(abs)
}

// cleanup kills every process in the lab's namespaces, removes systemd
// hosts' cgroups, then deletes the namespaces (their veths go with them)
// and the bridge. Mounts live in the hosts' private mount namespaces and
// vanish with their last process. Every object is found by its name
// prefix, never from state.json.
func cleanup(ctx context.Context, prefix string) error {
	names := leftoverNetns(prefix)
	// A systemd host is powered off: SIGKILL to its systemd, PID 1 of the
	// host's PID namespace, ends every process in it (SIGTERM would only
	// make systemd reexecute itself).
	for _, ns := range names {
		for _, pid := range netnsPIDs(ns) {
			if nsInit(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	// TERM first so etcd and sshd exit cleanly, then KILL what is left.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, ns := range names {
			for _, pid := range netnsPIDs(ns) {
				_ = syscall.Kill(pid, sig)
			}
		}
		deadline := time.Now().Add(2 * time.Second)
		if sig == syscall.SIGKILL {
			deadline = time.Now().Add(5 * time.Second)
		}
		for time.Now().Before(deadline) && anyPIDs(names) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond): // poll interval
			}
		}
		if !anyPIDs(names) {
			break
		}
	}
	if anyPIDs(names) {
		return fmt.Errorf("lab: processes in namespaces %s did not exit", strings.Join(names, ", "))
	}
	var errs []error
	if err := removeCgroups(ctx, func(ns string) bool { return strings.HasPrefix(ns, prefix+"-") }); err != nil {
		errs = append(errs, err)
	}
	for _, ns := range names {
		if err := ipCmd(ctx, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if linkExists(prefix + "br") {
		if err := ipCmd(ctx, "link", "del", prefix+"br"); err != nil {
			errs = append(errs, err)
		}
	}
	// A veth whose namespace end was never moved is still in the root namespace.
	for _, veth := range labVeths(prefix) {
		_ = ipCmd(ctx, "link", "del", veth)
	}
	return errors.Join(errs...)
}

// labFiles are the names lab up writes in its directory; Up refuses a
// directory that already holds one of them, so Down removes only what
// lab up made.
var labFiles = []string{"hosts", "state.json", "state.json.tmp", "lab.hcl", "id_ed25519", "id_ed25519.pub", "authorized_keys", "known_hosts", PKIDir}

// removeFiles deletes what the lab wrote to dir, by the names in labFiles
// only, and dir itself when nothing else is left in it. A symbolic link
// in their place is left alone (lab up writes none), so nothing outside
// dir is reached.
func removeFiles(dir string) error {
	var errs []error
	for _, p := range labFiles {
		path := filepath.Join(dir, p)
		if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeSymlink != 0 {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(dir) // only succeeds when empty
	return errors.Join(errs...)
}

// existingLabFiles lists the labFiles that already exist in dir.
func existingLabFiles(dir string) []string {
	var found []string
	for _, p := range labFiles {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			found = append(found, p)
		}
	}
	return found
}

// labVeths lists the links in this namespace named like the lab's veths
// (prefix, "v", the host's number).
func labVeths(prefix string) []string {
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		return nil
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `v[0-9]+$`)
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if re.MatchString(name) {
			names = append(names, name)
		}
	}
	return names
}

// leftoverNetns lists network namespaces whose names carry prefix.
func leftoverNetns(prefix string) []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			names = append(names, f[0])
		}
	}
	return names
}

// Namespaces lists the lab's network namespaces that exist now.
func (s *State) Namespaces() []string { return leftoverNetns(s.Prefix) }

func netnsPIDs(ns string) []int {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func isZombie(pid int) bool {
	_, state, _, ok := procStat(pid)
	return !ok || state == "Z" // gone, or a zombie
}

// procStat reads a process's command name, state and parent PID from
// /proc/PID/stat ("pid (comm) state ppid ..."); ok is false when the
// process is gone or the line does not parse.
func procStat(pid int) (comm, state string, ppid int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", 0, false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", "", 0, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return "", "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return s[open+1 : end], f[0], ppid, err == nil
}

func anyPIDs(names []string) bool {
	for _, ns := range names {
		if len(netnsPIDs(ns)) > 0 {
			return true
		}
	}
	return false
}

// ProcessesLeft returns the live processes in the lab's namespaces.
func (s *State) ProcessesLeft() []int {
	var pids []int
	for _, ns := range s.Namespaces() {
		pids = append(pids, netnsPIDs(ns)...)
	}
	return pids
}

func anyAlive(st *State) bool {
	for _, h := range st.Hosts {
		if h.PID > 0 && syscall.Kill(h.PID, 0) == nil && !isZombie(h.PID) {
			return true
		}
	}
	return false
}

func linkExists(name string) bool {
	return exec.Command("ip", "link", "show", "dev", name).Run() == nil
}

// CleanStale removes the namespaces, bridges and cgroups of labs (any
// directory) whose processes have all died: what a killed test run or an
// ended session leaves behind. It never touches a lab with a live process,
// and it returns the prefixes it removed.
func CleanStale(ctx context.Context) ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("lab: ip netns list: %w", err)
	}
	byPrefix := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !labNetnsName.MatchString(f[0]) {
			continue
		}
		p := f[0][:7]
		byPrefix[p] = append(byPrefix[p], f[0])
	}
	brOut, _ := exec.Command("ip", "-o", "link", "show", "type", "bridge").Output()
	for _, line := range strings.Split(string(brOut), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			name := strings.TrimSuffix(f[1], ":")
			if labBridgeName.MatchString(name) {
				if _, ok := byPrefix[name[:7]]; !ok {
					byPrefix[name[:7]] = nil
				}
			}
		}
	}
	var removed []string
	var errs []error
	for p, names := range byPrefix {
		// A lab being built right now has namespaces without processes for
		// a moment: only objects older than a minute count as stale.
		if anyPIDs(names) || youngerThan(time.Minute, append(names, p+"br")...) {
			continue
		}
		if err := cleanup(ctx, p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	if err := removeOrphanCgroups(ctx); err != nil {
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

var (
	labNetnsName  = regexp.MustCompile(`^ef[0-9a-f]{5}-[0-9]+$`)
	labBridgeName = regexp.MustCompile(`^ef[0-9a-f]{5}br$`)
)

// youngerThan reports whether any named netns or link was made within d.
func youngerThan(d time.Duration, names ...string) bool {
	for _, n := range names {
		for _, p := range []string{"/run/netns/" + n, "/sys/class/net/" + n} {
			if st, err := os.Lstat(p); err == nil && time.Since(st.ModTime()) < d {
				return true
			}
		}
	}
	return false
}
