package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/providers/backupstore"
	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Backups lists cluster c's backup destination (S3 credentials from the
// AWS_* environment variables, read through Getenv) and reports how many
// complete snapshots of c it holds and when the newest was taken; nil when
// c has no backup block.
func Backups(ctx context.Context, c *schema.Cluster) *state.Backups {
	b := c.Backup
	if b == nil {
		return nil
	}
	ob := &state.Backups{Destination: b.Destination}
	if dir, ok := strings.CutPrefix(b.Destination, "file://"); ok {
		// A directory on the hosts (an NFS mount, say): listable here only
		// where the same directory is mounted.
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			ob.Error = dir + " is not a directory where etcdform runs (mount it here to check freshness)"
			return ob
		}
	}
	opts := backupstore.Options{Getenv: Getenv}
	if b.S3 != nil {
		opts.Endpoint, opts.Region, opts.PathStyle = b.S3.Endpoint, b.S3.Region, b.S3.PathStyle
	}
	s, err := backupstore.Open(b.Destination, opts)
	if err != nil {
		ob.Error = err.Error()
		return ob
	}
	all, _, err := backupstore.List(ctx, s)
	if err != nil {
		ob.Error = err.Error()
		return ob
	}
	for _, m := range all {
		if m.Cluster != c.Name {
			continue
		}
		ob.Count++
		ob.Snapshots = append(ob.Snapshots, state.BackupRecord{ID: m.ID, Object: m.Object, Time: m.Time, Revision: m.Revision,
			KeyCount: m.KeyCount, SHA256: m.SHA256, Size: m.Size, Encrypted: m.Encrypted, Recipient: m.Recipient, EtcdVersion: m.EtcdVersion})
		if m.Time.After(ob.Newest) {
			ob.Newest = m.Time
		}
	}
	return ob
}

// hostBackup is what a host holds of its cluster's backup job.
type hostBackup struct {
	files       map[string][]byte // the job's files under either scheduler, by path
	init, timer string            // see state.Host.Init and BackupTimer
	toolSHA256  string
	toolVersion string
	envSHA256   string
}

// backupJobPaths are the paths of cluster c's backup job files under
// either scheduler (apply may be moving it from one to the other).
func backupJobPaths(c *schema.Cluster) []string {
	var paths []string
	for _, sch := range []backupjob.Scheduler{backupjob.Cron, backupjob.Systemd} {
		paths = append(paths, backupjob.Paths(c.Name, sch)...)
	}
	return paths
}

// backupJob takes the installed files of cluster c's backup job from
// files (read with the host's other files: see fileFacts) and reads
// whether systemd runs the host and the state of the job's timer (when the
// cluster's manager is systemd or its units are there), and the hashes of
// the etcdform binary the job runs and of its credentials file (on the
// hosts of backup.on, or holding a job). Unreadable files count as
// absent: plan then proposes to install them.
func backupJob(ctx context.Context, cli *sshp.Client, c *schema.Cluster, m *schema.Member, files map[string][]byte) hostBackup {
	var hb hostBackup
	for _, p := range backupJobPaths(c) {
		if b, ok := files[p]; ok {
			if hb.files == nil {
				hb.files = map[string][]byte{}
			}
			hb.files[p] = b
		}
	}
	units := backupjob.Paths(c.Name, backupjob.Systemd)
	if c.Service.Manager == "systemd" || hb.files[units[0]] != nil || hb.files[units[1]] != nil {
		hb.init, hb.timer = timerState(ctx, cli, backupjob.TimerUnit(c.Name))
	}
	inOn := c.Backup != nil && slices.Contains(c.Backup.On, m.Name)
	if !inOn && hb.files == nil {
		return hb
	}
	hb.envSHA256, _ = cli.Sha256File(ctx, backupjob.DefaultEnvFile)
	if !inOn {
		return hb
	}
	hb.toolSHA256, _ = cli.Sha256File(ctx, backupjob.DefaultBinary)
	if hb.toolSHA256 != "" {
		hb.toolVersion = hostToolVersion(ctx, cli)
	}
	return hb
}

// credentialsSource hashes the backup block's s3.credentials_source (a
// secret: only its hash leaves this function).
func credentialsSource(c *schema.Cluster) (sum, errMsg string) {
	if c.Backup == nil || c.Backup.S3 == nil || c.Backup.S3.CredentialsSource == "" {
		return "", ""
	}
	b, err := os.ReadFile(c.Backup.S3.CredentialsSource)
	if err != nil {
		return "", err.Error()
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), ""
}

// timerState says whether systemd runs the host ("systemd" or "other")
// and, when it does, `systemctl is-enabled` and `is-active` of unit,
// space-separated ("enabled active"); "" and "" when the host could not
// be asked.
func timerState(ctx context.Context, cli *sshp.Client, unit string) (init, state string) {
	q := sshp.Quote(unit)
	out, _, code, err := cli.Run(ctx, `[ -d /run/systemd/system ] || exit 3; e=$(systemctl is-enabled `+q+` 2>/dev/null); a=$(systemctl is-active `+q+` 2>/dev/null); echo "${e:-unknown} ${a:-unknown}"`)
	switch {
	case err != nil:
		return "", ""
	case code == 3:
		return "other", ""
	case code != 0:
		return "systemd", ""
	}
	return "systemd", strings.TrimSpace(string(out))
}

// hostToolVersion is the version the installed etcdform binary reports
// ("etcdform 0.1.0" → "0.1.0"), "" when it cannot say.
func hostToolVersion(ctx context.Context, cli *sshp.Client) string {
	out, _, code, err := cli.Run(ctx, sshp.Quote(backupjob.DefaultBinary)+" version")
	if err != nil || code != 0 {
		return ""
	}
	first, _, _ := strings.Cut(string(out), "\n")
	v, ok := strings.CutPrefix(strings.TrimSpace(first), "etcdform ")
	if !ok {
		return ""
	}
	return v
}
