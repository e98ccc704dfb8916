package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// exitMissing is the exit status our scripts use for "no such file".
const exitMissing = 3

// script runs a POSIX sh script on the host with args as $1, $2, ...
func (c *Client) script(ctx context.Context, script string, stdin []byte, args ...string) (stdout, stderr []byte, code int, err error) {
	cmd := scriptCommand(script, args...)
	if c.batch != nil && stdin == nil {
		return c.batch.run(ctx, c.slot, cmd, inlineScript(script, args...))
	}
	if stdin == nil {
		return c.Run(ctx, cmd)
	}
	return c.RunStdin(ctx, cmd, bytes.NewReader(stdin))
}

// scriptCommand is the command line that runs script with args as $1...
func scriptCommand(script string, args ...string) string {
	var b strings.Builder
	b.WriteString("sh -c ")
	b.WriteString(Quote(script))
	b.WriteString(" etcdform")
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(Quote(a))
	}
	return b.String()
}

// notExist reports path as missing on this host.
func (c *Client) notExist(op, path string) error {
	return &fs.PathError{Op: op, Path: c.addr + ":" + path, Err: fs.ErrNotExist}
}

// ReadFile returns the content of path. A missing file is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func (c *Client) ReadFile(ctx context.Context, path string) ([]byte, error) {
	out, errb, code, err := c.script(ctx, `[ -e "$1" ] || exit 3; exec cat -- "$1"`, nil, path)
	switch {
	case err != nil:
		return nil, err
	case code == exitMissing:
		return nil, c.notExist("read", path)
	case code != 0:
		return nil, c.cmdError("reading "+path, code, errb)
	}
	return out, nil
}

// readFilesScript prints, for each path argument in order, "M" (missing),
// "E" (not readable) or "F SIZE" and then exactly SIZE bytes of content.
const readFilesScript = `for f; do
  [ -e "$f" ] || { echo M; continue; }
  n=$(wc -c < "$f" 2>/dev/null) || { echo E; continue; }
  echo "F $((n))"; head -c "$((n))" -- "$f"
done`

// ReadFiles reads several small files in one SSH session (one round trip
// rather than one per file). files holds the content of each path that
// exists; missing paths are in neither map. A path that cannot be read,
// and every path when a file changed size while it was read, is read
// again alone with ReadFile, and errs holds its error. err is a transport
// failure: then nothing was read.
func (c *Client) ReadFiles(ctx context.Context, paths ...string) (files map[string][]byte, errs map[string]error, err error) {
	files, errs = map[string][]byte{}, map[string]error{}
	if len(paths) == 0 {
		return files, errs, nil
	}
	stdout, _, code, err := c.script(ctx, readFilesScript, nil, paths...)
	if err != nil {
		return nil, nil, err
	}
	var again []string
	rest := stdout
	ok := code == 0
	for _, p := range paths {
		if !ok {
			break
		}
		line, tail, found := bytes.Cut(rest, []byte("\n"))
		switch {
		case !found:
			ok = false
		case string(line) == "M":
		case string(line) == "E":
			again = append(again, p)
		case bytes.HasPrefix(line, []byte("F ")):
			n, perr := strconv.Atoi(string(line[2:]))
			if perr != nil || n < 0 || n > len(tail) {
				ok = false
				break
			}
			var b []byte // as ReadFile: an empty file's content is nil
			if n > 0 {
				b = bytes.Clone(tail[:n])
			}
			files[p], tail = b, tail[n:]
		default:
			ok = false
		}
		rest = tail
	}
	if !ok || len(rest) != 0 {
		// A file that shrank or grew between its size and its read; or
		// the script did not run (a shell without wc or head).
		files, again = map[string][]byte{}, paths
	}
	for _, p := range again {
		b, err := c.ReadFile(ctx, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			if ctx.Err() != nil {
				return nil, nil, err
			}
			errs[p] = err
		default:
			files[p] = b
		}
	}
	return files, errs, nil
}

// FileStat describes a file on a host (following symbolic links).
type FileStat struct {
	Exists bool
	Mode   os.FileMode // permission and special bits, and ModeDir for a directory
	UID    int
	GID    int
	Size   int64
}

// FileInfo stats path. A missing file is Exists false with no error.
func (c *Client) FileInfo(ctx context.Context, path string) (FileStat, error) {
	out, errb, code, err := c.script(ctx, `[ -e "$1" ] || exit 3; exec stat -L -c '%f %u %g %s' -- "$1"`, nil, path)
	switch {
	case err != nil:
		return FileStat{}, err
	case code == exitMissing:
		return FileStat{}, nil
	case code != 0:
		return FileStat{}, c.cmdError("stat "+path, code, errb)
	}
	st, err := parseStat(string(out))
	if err != nil {
		return FileStat{}, fmt.Errorf("ssh %s: stat %s: %w", c.addr, path, err)
	}
	return st, nil
}

// parseStat parses `stat -c '%f %u %g %s'`: raw mode in hex, uid, gid, size.
func parseStat(s string) (FileStat, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return FileStat{}, fmt.Errorf("unexpected stat output %q", s)
	}
	raw, err1 := strconv.ParseUint(f[0], 16, 32)
	uid, err2 := strconv.Atoi(f[1])
	gid, err3 := strconv.Atoi(f[2])
	size, err4 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return FileStat{}, fmt.Errorf("unexpected stat output %q", s)
	}
	return FileStat{Exists: true, Mode: unixMode(uint32(raw)), UID: uid, GID: gid, Size: size}, nil
}

// unixMode converts a st_mode to an os.FileMode.
func unixMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	switch m & 0o170000 {
	case 0o040000:
		mode |= os.ModeDir
	case 0o120000:
		mode |= os.ModeSymlink
	case 0o010000:
		mode |= os.ModeNamedPipe
	case 0o140000:
		mode |= os.ModeSocket
	case 0o020000:
		mode |= os.ModeDevice | os.ModeCharDevice
	case 0o060000:
		mode |= os.ModeDevice
	}
	return mode
}

// chmodBits renders a FileMode's permission and special bits for chmod.
func chmodBits(m os.FileMode) string {
	bits := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		bits |= 0o1000
	}
	return fmt.Sprintf("%04o", bits)
}

// WriteOptions tune WriteFileAtomic. Zero fields keep what the existing
// file has; for a new file they mean DefaultFileMode and the connecting
// (or sudo) user.
type WriteOptions struct {
	Mode  os.FileMode
	Owner string // user name or numeric id
	Group string // group name or numeric id
	// Backup keeps the file being replaced as PATH.bak (replacing an older
	// .bak). Nothing is backed up when the content is unchanged.
	Backup bool
}

// DefaultFileMode is the mode of a file WriteFileAtomic creates without
// WriteOptions.Mode.
const DefaultFileMode os.FileMode = 0o644

// writeScript replaces $1 atomically with stdin. $2 mode, $3 owner, $4
// group (empty: keep the existing file's), $5 "1" to back up, $6 the mode
// of a new file. A symbolic link at $1 is followed, so the link's target is replaced.
const writeScript = `set -eu
p=$1 mode=$2 owner=$3 group=$4 backup=$5
if [ -L "$p" ]; then p=$(readlink -f -- "$p"); fi
if [ -d "$p" ]; then echo "$p is a directory" >&2; exit 1; fi
d=$(dirname -- "$p") b=$(basename -- "$p")
if [ ! -d "$d" ]; then echo "directory $d does not exist" >&2; exit 1; fi
t=$(mktemp "$d/.$b.etcdform.XXXXXX")
trap 'rm -f -- "$t"' EXIT
cat > "$t"
if [ -e "$p" ]; then
	[ -n "$owner" ] || owner=$(stat -c %u -- "$p")
	[ -n "$group" ] || group=$(stat -c %g -- "$p")
	[ -n "$mode" ] || mode=$(stat -c %a -- "$p")
fi
if [ -n "$owner" ] && [ -n "$group" ]; then chown -- "$owner:$group" "$t"
elif [ -n "$owner" ]; then chown -- "$owner" "$t"
elif [ -n "$group" ]; then chgrp -- "$group" "$t"
fi
chmod -- "${mode:-$6}" "$t"
sync -- "$t" 2>/dev/null || sync
if [ "$backup" = 1 ] && [ -e "$p" ] && ! cmp -s -- "$t" "$p"; then
	ln -f -- "$p" "$p.bak" 2>/dev/null || cp -p -- "$p" "$p.bak"
fi
mv -f -- "$t" "$p"
sync -- "$d" 2>/dev/null || true
`

// WriteFileAtomic replaces path with data so that path always holds either
// the old or the whole new content: the data goes to a temporary file in
// the same directory, which is fsynced, given its owner and mode (by
// default those of the file it replaces), and renamed over path. With
// opts.Backup the replaced file is kept as path.bak. The directory must
// exist.
func (c *Client) WriteFileAtomic(ctx context.Context, path string, data []byte, opts WriteOptions) error {
	mode := ""
	if opts.Mode != 0 {
		mode = chmodBits(opts.Mode)
	}
	backup := "0"
	if opts.Backup {
		backup = "1"
	}
	if data == nil {
		data = []byte{}
	}
	_, errb, code, err := c.script(ctx, writeScript, data, path, mode, opts.Owner, opts.Group, backup, chmodBits(DefaultFileMode))
	if err != nil {
		return err
	}
	if code != 0 {
		return c.cmdError("writing "+path, code, errb)
	}
	return nil
}

// Sha256File returns the hex SHA-256 of path's content; a missing file is
// an error satisfying errors.Is(err, fs.ErrNotExist).
func (c *Client) Sha256File(ctx context.Context, path string) (string, error) {
	out, errb, code, err := c.script(ctx, `[ -e "$1" ] || exit 3; exec sha256sum -b -- "$1"`, nil, path)
	switch {
	case err != nil:
		return "", err
	case code == exitMissing:
		return "", c.notExist("sha256", path)
	case code != 0:
		return "", c.cmdError("hashing "+path, code, errb)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("ssh %s: hashing %s: unexpected sha256sum output %q", c.addr, path, out)
	}
	return f[0], nil
}

// DirSize returns the apparent size of everything under path (du -sb) and
// whether the directory has no entries, not counting entries whose names
// start with one of ignore. A missing directory is reported as empty, size
// 0, with no error.
func (c *Client) DirSize(ctx context.Context, path string, ignore ...string) (bytes int64, empty bool, err error) {
	const s = `[ -e "$1" ] || exit 3
[ -d "$1" ] || { echo "not a directory" >&2; exit 1; }
d=$1; shift
n=$(du -sb -- "$d"); n=${n%%[!0-9]*}
used=
for e in "$d"/* "$d"/.[!.]* "$d"/..?*; do
  case "$e" in "$d/*"|"$d/.[!.]*"|"$d/..?*") [ -e "$e" ] || [ -L "$e" ] || continue ;; esac
  e=${e##*/}
  skip=; for p in "$@"; do case "$e" in "$p"*) skip=1 ;; esac; done
  [ -n "$skip" ] || { used=1; break; }
done
if [ -z "$used" ]; then echo "$n empty"; else echo "$n full"; fi`
	out, errb, code, err := c.script(ctx, s, nil, append([]string{path}, ignore...)...)
	switch {
	case err != nil:
		return 0, false, err
	case code == exitMissing:
		return 0, true, nil
	case code != 0:
		return 0, false, c.cmdError("sizing "+path, code, errb)
	}
	f := strings.Fields(string(out))
	if len(f) == 2 {
		if n, perr := strconv.ParseInt(f[0], 10, 64); perr == nil {
			return n, f[1] == "empty", nil
		}
	}
	return 0, false, fmt.Errorf("ssh %s: sizing %s: unexpected output %q", c.addr, path, out)
}

// BinaryVersion runs `BINARY --version` (a path, or a name looked up in
// PATH) and returns the version from its first line, e.g. "3.6.16" from
// "etcd Version: 3.6.16". An absent binary is "" with no error.
func (c *Client) BinaryVersion(ctx context.Context, binary string) (string, error) {
	out, errb, code, err := c.script(ctx, `command -v -- "$1" >/dev/null 2>&1 || exit 3; exec "$1" --version`, nil, binary)
	switch {
	case err != nil:
		return "", err
	case code == exitMissing:
		return "", nil
	case code != 0:
		return "", c.cmdError(binary+" --version", code, errb)
	}
	v, ok := parseVersion(string(out))
	if !ok {
		return "", fmt.Errorf("ssh %s: %s --version: no version in %q", c.addr, binary, firstLine(string(out)))
	}
	return v, nil
}

// parseVersion takes the version from the first line of `etcd --version`
// ("etcd Version: 3.6.16") or `etcdctl version` ("etcdctl version: 3.6.16").
func parseVersion(out string) (string, bool) {
	line := firstLine(out)
	i := strings.Index(strings.ToLower(line), "version:")
	if i < 0 {
		return "", false
	}
	v := strings.TrimPrefix(strings.TrimSpace(line[i+len("version:"):]), "v")
	if v == "" || strings.ContainsAny(v, " \t") {
		return "", false
	}
	return v, true
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// WALHead returns the first n bytes of the oldest write-ahead log file of
// the etcd data dir dataDir (DATA_DIR/member/wal/*.wal, by name), where
// etcd keeps the member's and cluster's IDs (internal/etcdwal decodes
// them). A data dir with no WAL file is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func (c *Client) WALHead(ctx context.Context, dataDir string, n int) ([]byte, error) {
	// The glob lists the names in order, as ls does: etcd names WAL files
	// by fixed-width hex sequence and index, so the first is the oldest.
	const s = `w="$1/member/wal"
[ -d "$w" ] || exit 3
for f in "$w"/*.wal; do
  [ -f "$f" ] || exit 3
  exec head -c "$2" -- "$f"
done
exit 3`
	out, errb, code, err := c.script(ctx, s, nil, dataDir, strconv.Itoa(n))
	switch {
	case err != nil:
		return nil, err
	case code == exitMissing:
		return nil, c.notExist("read WAL", dataDir+"/member/wal")
	case code != 0:
		return nil, c.cmdError("reading the WAL of "+dataDir, code, errb)
	}
	return out, nil
}
