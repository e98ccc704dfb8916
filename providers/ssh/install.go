package ssh

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// ServiceInstall is etcd's service on a new member's host (see
// Client.InstallService).
type ServiceInstall struct {
	Manager    string // "systemd" or "runit"
	Name       string // the unit, or the runit service name or directory
	Path       string // where Definition goes
	Definition []byte // the unit file or run script, whole
	User       string // the user etcd runs as; "root": none is created
	DataDir    string // created mode 0700, owned by User
}

// prepareService creates the user when missing (a system user with its
// own group, no login shell, the data dir as home) and the data dir,
// mode 0700, owned by the user.
const prepareService = `set -e
u=$1 d=$2
if [ "$u" != root ] && ! getent passwd "$u" >/dev/null; then
  useradd --system --user-group --no-create-home --home-dir "$d" --shell /usr/sbin/nologin "$u"
fi
mkdir -p -- "$d"
chmod 0700 -- "$d"
chown -- "$u:$(id -gn "$u")" "$d"`

// InstallService installs etcd's service, stopped: the user and data dir
// (prepareService), then the definition. Under systemd the unit is
// written and systemd reloaded. Under runit the service directory gets a
// `down` file before its first run script, so runsvdir supervises it
// without starting it, and InstallService waits (up to 15 s; runsvdir
// looks for new services every 5 s) until runit answers for it.
func (c *Client) InstallService(ctx context.Context, s ServiceInstall) error {
	if err := c.sh(ctx, "preparing user "+s.User+" and data dir "+s.DataDir, prepareService, s.User, s.DataDir); err != nil {
		return err
	}
	switch s.Manager {
	case "systemd":
		if err := c.mkdirs(ctx, []string{path.Dir(s.Path)}); err != nil {
			return err
		}
		if err := c.WriteFileAtomic(ctx, s.Path, s.Definition, WriteOptions{Mode: 0o644, Backup: true}); err != nil {
			return err
		}
		return c.sh(ctx, "systemctl daemon-reload", `exec systemctl daemon-reload`)
	case "runit":
		dir := path.Dir(s.Path)
		if err := c.sh(ctx, "preparing "+dir, `mkdir -p -- "$1"; [ -e "$1/run" ] || touch -- "$1/down"`, dir); err != nil {
			return err
		}
		if err := c.WriteFileAtomic(ctx, s.Path, s.Definition, WriteOptions{Mode: 0o755, Backup: true}); err != nil {
			return err
		}
		return c.sh(ctx, "waiting for runit to supervise "+dir,
			`i=0; until sv status "$1" >/dev/null 2>&1; do i=$((i+1)); if [ $i -gt 300 ]; then sv status "$1"; exit 1; fi; sleep 0.05; done`, dir)
	}
	return fmt.Errorf("ssh %s: etcdform installs services for systemd and runit, not %q", c.addr, s.Manager)
}

// Launch starts the unit without waiting for it to report ready
// (Type=notify: a new cluster's first member is ready only once a quorum
// of its peers runs).
func (s *Systemd) Launch(ctx context.Context) error { return s.systemctl(ctx, "start --no-block") }

// Launch starts the service; sv does not wait for it.
func (r *Runit) Launch(ctx context.Context) error { return r.Start(ctx) }

// Launch runs the start command.
func (c *Command) Launch(ctx context.Context) error { return c.Start(ctx) }

// PeerPortInUse reports whether something listens on TCP port on the
// host (ss(8)); an error when the host cannot tell.
func (c *Client) PeerPortInUse(ctx context.Context, port int) (bool, error) {
	out, errb, code, err := c.script(ctx, `command -v ss >/dev/null || exit 3; exec ss -Hltn "sport = :$1"`, nil, strconv.Itoa(port))
	switch {
	case err != nil:
		return false, err
	case code == exitMissing:
		return false, fmt.Errorf("ssh %s: no ss(8) on the host to check port %d", c.addr, port)
	case code != 0:
		return false, c.cmdError("ss", code, errb)
	}
	return strings.TrimSpace(string(out)) != "", nil
}

// checkV2Store runs etcdutl check v2store on a copy of the data dir's WAL
// and v2 snapshots (etcdutl wants a data dir etcd does not use; the
// backend database is not needed), made next to the data dir and removed
// afterwards.
const checkV2Store = `set -e
u=$1 d=$2
[ -d "$d/member" ] || { echo "no $d/member" >&2; exit 1; }
t=$(mktemp -d "$d.v2check.XXXXXX")
trap 'rm -rf -- "$t"' EXIT
mkdir -p "$t/member/snap"
cp -a -- "$d/member/wal" "$t/member/"
for f in "$d"/member/snap/*.snap; do [ -e "$f" ] && cp -a -- "$f" "$t/member/snap/"; done
"$u" check v2store --data-dir "$t"`

// CheckV2Store checks with etcdutl (a 3.5 etcdutl, which has the check)
// that the v2 store of the member in dataDir holds no custom content, as
// etcd's 3.6 upgrade guide requires; it changes nothing on the host but a
// temporary copy it removes. The error carries etcdutl's output.
func (c *Client) CheckV2Store(ctx context.Context, etcdutl, dataDir string) error {
	return c.sh(ctx, "etcdutl check v2store on "+dataDir, checkV2Store, etcdutl, dataDir)
}
