package ssh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The host operations apply carries out. Each is one typed call; the
// shell it runs, and its quoting, stay in this file.

// Preflight is what a host must offer before a new member is added on
// it.
type Preflight struct {
	Binary  string // the etcd binary, a path or a name in PATH
	Version string // the version it must report; "" accepts any
	DataDir string // must be missing or empty...
	// ... but for entries whose names start with one of Ignore (what an
	// earlier removal moved aside).
	Ignore   []string
	PeerPort int // must have no listener; 0 skips the check
}

// Preflight checks p on the host and returns an error saying what is
// wrong: no etcd binary, another version, a data dir in use, a peer port
// taken. It changes nothing.
func (c *Client) Preflight(ctx context.Context, p Preflight) error {
	v, err := c.BinaryVersion(ctx, p.Binary)
	if err != nil || v == "" {
		return fmt.Errorf("no etcd binary at %s", p.Binary)
	}
	if p.Version != "" && v != p.Version {
		return fmt.Errorf("%s is etcd %s, the configuration wants %s", p.Binary, v, p.Version)
	}
	used, err := c.dirUsed(ctx, p.DataDir, p.Ignore)
	if err != nil {
		return err
	}
	if used {
		return fmt.Errorf("data dir %s is not empty: a new member must start from an empty data dir", p.DataDir)
	}
	if p.PeerPort != 0 {
		if used, err := c.PeerPortInUse(ctx, p.PeerPort); err == nil && used {
			return fmt.Errorf("peer port %d is already in use on %s", p.PeerPort, c.addr)
		}
	}
	return nil
}

// dirUsed reports whether dir has an entry whose name starts with none of
// ignore. A missing directory is not used.
func (c *Client) dirUsed(ctx context.Context, dir string, ignore []string) (bool, error) {
	const s = `d=$1; shift
[ -d "$d" ] || exit 0
ls -A -- "$d" | while IFS= read -r e; do
  skip=; for p in "$@"; do case "$e" in "$p"*) skip=1 ;; esac; done
  [ -n "$skip" ] || { echo used; break; }
done`
	out, errb, code, err := c.script(ctx, s, nil, append([]string{dir}, ignore...)...)
	switch {
	case err != nil:
		return false, err
	case code != 0:
		return false, c.cmdError("listing "+dir, code, errb)
	}
	return strings.TrimSpace(string(out)) != "", nil
}

// MoveAside renames from to aside on the host (one file system: a
// rename, nothing is copied or deleted). A missing from is nothing to do;
// an existing aside is an error and nothing is moved.
func (c *Client) MoveAside(ctx context.Context, from, aside string) error {
	_, errb, code, err := c.script(ctx, `[ -e "$1" ] || exit 0
if [ -e "$2" ]; then echo "$2 exists" >&2; exit 1; fi
exec mv -- "$1" "$2"`, nil, from, aside)
	if err != nil {
		return err
	}
	if code != 0 {
		return c.cmdError("moving "+from+" aside to "+aside, code, errb)
	}
	return nil
}

// File is one whole file to install on a host.
type File struct {
	Path string
	Data []byte
	Mode os.FileMode
	// DropPrevious keeps no copy of the file being replaced (a secret);
	// otherwise it is kept as PATH.bak.
	DropPrevious bool
}

// stagedSuffix names the staged copy of an installed file next to it.
const stagedSuffix = ".etcdform-new"

// stampFormat is stat's format of a staged copy's stamp: its device,
// inode, size, and modification and change times (to the nanosecond where
// the file system keeps them). A write to the file, a chmod or a chown, or
// another file renamed in its place changes it; only a rewrite of the same
// size within one tick of the file system's clock would not.
const stampFormat = "%d %i %s %y %z"

// swapScript moves staged files over their targets. Its arguments are
// quadruples: target, staged copy, its expected sha256, and its stamp
// when StageFiles checked it ("" for none). Every staged copy is checked
// first: hashed again, unless it still has the stamp it had when its hash
// was checked; then each target's owner goes to its replacement and the
// target is kept as TARGET.bak, then all are renamed in a row.
const swapScript = `set -e
pass() {
  what=$1; shift
  while [ $# -gt 0 ]; do
    p=$1 s=$2 h=$3 st=$4; shift 4
    case $what in
    check) if [ -z "$st" ] || [ "$(stat -c '` + stampFormat + `' -- "$s" 2>/dev/null)" != "$st" ]; then
        echo "$h  $s" | sha256sum -c --status - || { echo "$s does not hold what was sent" >&2; exit 1; }
      fi ;;
    keep) if [ -e "$p" ]; then chown --reference="$p" "$s" && ln -f -- "$p" "$p.bak"; fi ;;
    swap) mv -f -- "$s" "$p" ;;
    esac
  done
}
pass check "$@"; pass keep "$@"; pass swap "$@"`

// InstallFiles installs files on the host, creating their directories.
// One file is written atomically (WriteFileAtomic). Several (a key and
// its certificate) are staged next to their targets with their modes,
// checked against what was sent, then swapped in by one script, so a
// reader of both (etcd loads the pair at every handshake) sees a
// mismatched pair for microseconds rather than for a whole SSH round
// trip. A replaced file is kept as PATH.bak unless File.DropPrevious.
func (c *Client) InstallFiles(ctx context.Context, files []File) error {
	if len(files) == 0 {
		return nil
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if err := c.mkdirs(ctx, dirsOf(paths)); err != nil {
		return err
	}
	if len(files) == 1 {
		f := files[0]
		if err := c.WriteFileAtomic(ctx, f.Path, f.Data, WriteOptions{Mode: f.Mode, Backup: true}); err != nil {
			return err
		}
	} else {
		if err := c.stage(ctx, files); err != nil {
			return err
		}
		if err := c.SwapStaged(ctx, staged(files)); err != nil {
			return err
		}
	}
	for _, f := range files {
		if f.DropPrevious {
			if err := c.remove(ctx, f.Path+".bak"); err != nil {
				return err
			}
		}
	}
	return nil
}

// Staged is a file StageFiles put next to Path, with the sha256 it must
// still have when it is swapped in.
type Staged struct {
	Path   string
	SHA256 string
	// Stamp is the staged copy's stamp (stampFormat) when StageFiles
	// checked its sha256; "" for none. SwapStaged hashes a copy again
	// only when its stamp changed since.
	Stamp string
}

func staged(files []File) []Staged {
	out := make([]Staged, len(files))
	for i, f := range files {
		sum := sha256.Sum256(f.Data)
		out[i] = Staged{Path: f.Path, SHA256: hex.EncodeToString(sum[:])}
	}
	return out
}

// stage writes each file next to its target as PATH.etcdform-new, with
// its mode.
func (c *Client) stage(ctx context.Context, files []File) error {
	for _, f := range files {
		if err := c.WriteFileAtomic(ctx, f.Path+stagedSuffix, f.Data, WriteOptions{Mode: f.Mode}); err != nil {
			return fmt.Errorf("staging %s: %w", f.Path, err)
		}
	}
	return nil
}

// StageFiles puts files next to their targets (PATH.etcdform-new,
// creating directories) and checks them there, without touching the
// targets: SwapStaged swaps them in later (an upgrade stages the new
// binary on every host before the first restart). It returns what
// SwapStaged needs, with each copy's stamp as it was checked.
func (c *Client) StageFiles(ctx context.Context, files []File) ([]Staged, error) {
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if err := c.mkdirs(ctx, dirsOf(paths)); err != nil {
		return nil, err
	}
	if err := c.stage(ctx, files); err != nil {
		return nil, err
	}
	out := staged(files)
	var args []string
	for _, s := range out {
		args = append(args, s.Path+stagedSuffix, s.SHA256)
	}
	// The stamp is read before the hash: a write after it changes it.
	stdout, errb, code, err := c.script(ctx, `set -e
while [ $# -gt 0 ]; do
  st=$(stat -c '`+stampFormat+`' -- "$1" 2>/dev/null) || st=""
  echo "$2  $1" | sha256sum -c --status - || { echo "$1 does not hold what was sent" >&2; exit 1; }
  echo "$st"; shift 2
done`, nil, args...)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, c.cmdError("checking staged "+strings.Join(paths, ", "), code, errb)
	}
	// Without a stamp for every copy, SwapStaged hashes them all again.
	if stamps := strings.Split(strings.TrimSuffix(string(stdout), "\n"), "\n"); len(stamps) == len(out) {
		for i := range out {
			out[i].Stamp = stamps[i]
		}
	}
	return out, nil
}

// SwapStaged swaps in files staged next to their targets (StageFiles):
// each staged copy is checked against its sha256 first (unless it still
// has the stamp StageFiles returned for it), each target is kept as
// PATH.bak, then all are renamed in a row (swapScript).
func (c *Client) SwapStaged(ctx context.Context, files []Staged) error {
	var args, paths []string
	for _, f := range files {
		args = append(args, f.Path, f.Path+stagedSuffix, f.SHA256, f.Stamp)
		paths = append(paths, f.Path)
	}
	_, errb, code, err := c.script(ctx, swapScript, nil, args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return c.cmdError("swapping in "+strings.Join(paths, ", "), code, errb)
	}
	return nil
}

// dirsOf returns the directories of paths, each once, in order.
func dirsOf(paths []string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, p := range paths {
		if d := path.Dir(p); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// mkdirs creates dirs and their parents, in one command.
func (c *Client) mkdirs(ctx context.Context, dirs []string) error {
	_, errb, code, err := c.script(ctx, `exec mkdir -p -- "$@"`, nil, dirs...)
	if err != nil {
		return err
	}
	if code != 0 {
		return c.cmdError("creating "+strings.Join(dirs, " "), code, errb)
	}
	return nil
}

// remove deletes path; a missing one is nothing to do.
func (c *Client) remove(ctx context.Context, p string) error {
	_, errb, code, err := c.script(ctx, `exec rm -f -- "$1"`, nil, p)
	if err != nil {
		return err
	}
	if code != 0 {
		return c.cmdError("removing "+p, code, errb)
	}
	return nil
}

// Job is a scheduled job's files as they are installed: Files are written
// (their directories and Dirs created first), systemd reloads when a unit
// was written, Timer is enabled and restarted; only then (the new job is in
// place) are StopTimers stopped and disabled, Remove deleted, and systemd
// reloaded when a unit was removed. What is removed may belong to a host
// systemd no longer runs (a job moved to cron): StopTimers and the second
// reload act only where systemd runs.
type Job struct {
	Files      []File
	Dirs       []string
	Timer      string
	StopTimers []string
	Remove     []string
}

// ifSystemd runs the rest of a command only where systemd runs.
const ifSystemd = `[ -d /run/systemd/system ] || exit 0; `

// InstallJob installs j in the order Job describes.
func (c *Client) InstallJob(ctx context.Context, j Job) error {
	if len(j.Files) > 0 {
		var paths []string
		for _, f := range j.Files {
			paths = append(paths, f.Path)
		}
		dirs := slices.Clone(j.Dirs)
		for _, d := range dirsOf(paths) {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
		if err := c.mkdirs(ctx, dirs); err != nil {
			return err
		}
	}
	reload := false
	for _, f := range j.Files {
		if err := c.WriteFileAtomic(ctx, f.Path, f.Data, WriteOptions{Mode: f.Mode, Backup: !f.DropPrevious}); err != nil {
			return err
		}
		reload = reload || isUnit(f.Path)
	}
	if reload {
		if err := c.sh(ctx, "systemctl daemon-reload", `exec systemctl daemon-reload`); err != nil {
			return err
		}
	}
	if t := j.Timer; t != "" {
		// restart, not start: a running timer keeps its old next elapse.
		if err := c.sh(ctx, "enabling "+t, `systemctl enable "$1" && exec systemctl restart "$1"`, t); err != nil {
			return err
		}
	}
	for _, t := range j.StopTimers {
		if err := c.sh(ctx, "stopping "+t, ifSystemd+`if systemctl cat "$1" >/dev/null 2>&1; then exec systemctl disable --now "$1"; fi`, t); err != nil {
			return err
		}
	}
	unitRemoved := false
	for _, p := range j.Remove {
		if err := c.remove(ctx, p); err != nil {
			return err
		}
		unitRemoved = unitRemoved || isUnit(p)
	}
	if unitRemoved {
		if err := c.sh(ctx, "systemctl daemon-reload", ifSystemd+`exec systemctl daemon-reload`); err != nil {
			return err
		}
	}
	return nil
}

// sh runs script with args and turns a non-zero exit into an error
// carrying its output.
func (c *Client) sh(ctx context.Context, what, script string, args ...string) error {
	out, errb, code, err := c.script(ctx, script, nil, args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return c.cmdError(what, code, append(append(out, '\n'), errb...))
	}
	return nil
}

// isUnit reports whether p is a systemd unit file.
func isUnit(p string) bool {
	return strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".timer")
}

// JobRun is one run of an installed job, started now.
type JobRun struct {
	// Command runs the job and returns when it has finished; it comes
	// from the job's own files (backupjob.RunCommand), never free text.
	Command string
	// Unit is the job's systemd service, whose status explains a failed
	// run; "" for a cron job.
	Unit string
	// Log is the job's log file, whose last lines explain a failed run.
	Log string
}

// RunJob runs the job once and, when the run fails, returns an error with
// its output, the unit's status and the last lines of its log (read with
// a fresh 10 s bound even when ctx has ended).
func (c *Client) RunJob(ctx context.Context, r JobRun) error {
	out, errb, code, err := c.Run(ctx, r.Command)
	if err == nil && code == 0 {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%q exited %d: %s", r.Command, code, errb)
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	diag := `tail -n 5 -- "$1"`
	if r.Unit != "" {
		diag = `systemctl status --no-pager --lines=0 "$2" 2>&1 | grep -E 'Active:|Process:'; ` + diag
	}
	logTail, _, _, _ := c.script(tctx, diag, nil, r.Log, r.Unit)
	return fmt.Errorf("%w%s; the job is installed but failed its first run%s", err, tail(string(out)), tail(string(logTail)))
}

// tail formats command output for an error message.
func tail(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	return ":\n" + out
}

// Restore is an etcd backend restore on the host (see Client.Restore).
type Restore struct {
	Etcdutl string // the etcdutl binary
	From    string // the backend file (a data dir's member/snap/db), or where Snapshot goes
	DataDir string // where member/ goes; it must have none
	Name    string
	PeerURL string
	Token   string
	// InitialCluster is the new cluster's members (name=peerURL,...);
	// "" means Name alone.
	InitialCluster string
	BumpRevision   int64
	// Snapshot, when set, is a snapshot (with etcd's trailing hash)
	// streamed into From first, checked there against SnapshotSHA256.
	Snapshot       io.Reader
	SnapshotSHA256 string
}

// check refuses a value a restore must not carry: relative paths, an
// empty or odd name or token, a peer URL that is not http(s), an initial
// cluster that does not list the member at its peer URL.
func (r Restore) check() error {
	for _, p := range []string{r.Etcdutl, r.From, r.DataDir} {
		if !path.IsAbs(p) || strings.ContainsAny(p, "\x00\n\r") {
			return fmt.Errorf("restore: %q is not an absolute path", p)
		}
	}
	for what, v := range map[string]string{"name": r.Name, "token": r.Token} {
		if v == "" || strings.HasPrefix(v, "-") || strings.ContainsAny(v, "\x00\n\r=,") {
			return fmt.Errorf("restore: bad member %s %q", what, v)
		}
	}
	if !peerURL(r.PeerURL) {
		return fmt.Errorf("restore: bad peer URL %q", r.PeerURL)
	}
	if r.InitialCluster != "" {
		self := false
		for _, e := range strings.Split(r.InitialCluster, ",") {
			n, u, ok := strings.Cut(e, "=")
			if !ok || n == "" || strings.HasPrefix(n, "-") || strings.ContainsAny(n, "\x00\n\r") || !peerURL(u) {
				return fmt.Errorf("restore: bad initial cluster entry %q", e)
			}
			self = self || n == r.Name && u == r.PeerURL
		}
		if !self {
			return fmt.Errorf("restore: the initial cluster %q does not list %s=%s", r.InitialCluster, r.Name, r.PeerURL)
		}
	}
	if r.BumpRevision <= 0 {
		return fmt.Errorf("restore: the revision bump must be positive, not %d", r.BumpRevision)
	}
	if (r.Snapshot != nil) != (r.SnapshotSHA256 != "") || r.Snapshot != nil && (len(r.SnapshotSHA256) != 64 || strings.Trim(r.SnapshotSHA256, "0123456789abcdef") != "") {
		return fmt.Errorf("restore: a streamed snapshot needs its sha256 (64 hex digits), and only it has one")
	}
	return nil
}

func peerURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsAny(s, ",\n")
}

// Restore runs `etcdutl snapshot restore` of r.From on the host into a
// temporary directory inside r.DataDir, a member (r.Name at r.PeerURL) of
// a new cluster (r.InitialCluster, or that member alone; token r.Token)
// with the revision bumped and the history marked compacted, then moves
// the result's member/ to r.DataDir/member (which must not exist), owned
// like the data dir. A data dir's backend carries no snapshot hash
// (--skip-hash-check); a streamed r.Snapshot is first written to r.From
// (which must not exist; mode 0600, checked against r.SnapshotSHA256),
// restored with its hash checked, and removed after a successful restore.
// It deletes nothing else: a failed restore leaves its temporary
// directory (named restore.tmp-PID) for a look.
func (c *Client) Restore(ctx context.Context, r Restore) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("ssh %s: %w", c.addr, err)
	}
	const s = `set -e
etcdutl=$1 from=$2 dd=$3 name=$4 peer=$5 token=$6 bump=$7 initial=$8 sum=$9
[ -d "$dd" ] || { echo "no data dir $dd" >&2; exit 1; }
[ ! -e "$dd/member" ] || { echo "$dd/member exists" >&2; exit 1; }
skip=--skip-hash-check
if [ -n "$sum" ]; then
  [ ! -e "$from" ] || { echo "$from exists" >&2; exit 1; }
  (umask 077 && cat > "$from.part")
  echo "$sum  $from.part" | sha256sum -c --status - || { rm -f -- "$from.part"; echo "the snapshot uploaded to $from does not hold what was sent (sha256)" >&2; exit 1; }
  mv -- "$from.part" "$from"
  skip=
fi
[ -f "$from" ] || { echo "no backend file $from" >&2; exit 1; }
[ -n "$initial" ] || initial="$name=$peer"
tmp="$dd/restore.tmp-$$"
"$etcdutl" snapshot restore "$from" $skip --data-dir="$tmp" --name="$name" \
  --initial-cluster="$initial" --initial-cluster-token="$token" --initial-advertise-peer-urls="$peer" \
  --bump-revision="$bump" --mark-compacted >&2
chown -R "$(stat -c %u:%g "$dd")" "$tmp/member"
mv -- "$tmp/member" "$dd/member"
rmdir -- "$tmp" 2>/dev/null || true
[ -z "$sum" ] || rm -f -- "$from"`
	cmd := scriptCommand(s, r.Etcdutl, r.From, r.DataDir, r.Name, r.PeerURL, r.Token, strconv.FormatInt(r.BumpRevision, 10), r.InitialCluster, r.SnapshotSHA256)
	_, errb, code, err := c.RunStdin(ctx, cmd, r.Snapshot)
	if err != nil {
		return err
	}
	if code != 0 {
		return c.cmdError("restoring "+r.From+" into "+r.DataDir, code, errb)
	}
	return nil
}
