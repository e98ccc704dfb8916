package arguments

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/etcdform/etcdform/internal/backup"
)

// BackupTarget says where backups are: a configuration (PATH and
// --cluster) whose backup block names the destination, or the destination
// given directly with --destination and the s3 flags (which also override
// the configuration's).
type BackupTarget struct {
	Path string
	// FromConfig is false when --destination was given without a PATH:
	// no configuration is read.
	FromConfig  bool
	Cluster     string
	Vars        []string
	VarFiles    []string
	Destination string
	S3Endpoint  string
	S3Region    string
	S3PathStyle bool
}

func (b *BackupTarget) flags(fs *flag.FlagSet) {
	fs.StringVar(&b.Cluster, "cluster", "", "the cluster `NAME` whose backups to use (required when PATH has several)")
	fs.StringVar(&b.Destination, "destination", "", "the destination `URL`: file:///dir or s3://bucket/prefix (default: the cluster's backup.destination)")
	fs.StringVar(&b.S3Endpoint, "s3-endpoint", "", "S3 endpoint `URL` (default: backup.s3.endpoint, else AWS)")
	fs.StringVar(&b.S3Region, "s3-region", "", "S3 region (default: backup.s3.region)")
	fs.BoolVar(&b.S3PathStyle, "s3-path-style", false, "path-style S3 requests (default: backup.s3.path_style)")
	varFlags(fs, &b.Vars, &b.VarFiles)
}

func (b *BackupTarget) path(fs *flag.FlagSet, cmd string) error {
	switch fs.NArg() {
	case 0:
		b.Path = "."
	case 1:
		b.Path = fs.Arg(0)
	default:
		return fmt.Errorf("%s: expected at most one PATH, got %d arguments", cmd, fs.NArg())
	}
	b.FromConfig = b.Destination == "" || fs.NArg() == 1
	return nil
}

// BackupRun holds `etcdform backup run` arguments.
type BackupRun struct {
	BackupTarget
	Member           string
	Endpoint         string
	Recipient        string
	AllowUnencrypted bool
	KeepLast         int
	MaxAge           time.Duration
	Textfile         string
	WorkDir          string
	Timeout          time.Duration
	// EtcdCA, EtcdCert and EtcdKey are the etcd client's TLS files, in
	// place of the configuration's tls.tool (the scheduled job on a host
	// passes the member's own).
	EtcdCA, EtcdCert, EtcdKey string
	// Set records which flags were given, so they override the
	// configuration only then.
	Set map[string]bool
}

// ParseBackupRun parses `etcdform backup run [flags] [PATH]`.
func ParseBackupRun(args []string) (*BackupRun, *flag.FlagSet, error) {
	r := &BackupRun{Set: map[string]bool{}}
	fs := newFlagSet("backup run", "backup run [flags] [PATH]", "Snapshots a member, checks, encrypts and uploads it, and applies retention (docs/backup.md).\n")
	r.flags(fs)
	fs.StringVar(&r.Member, "member", "", "snapshot the member `NAME` (its client_url); default: the first of backup.on")
	fs.StringVar(&r.Endpoint, "endpoint", "", "snapshot the member at this client `URL` (default: --member's)")
	fs.StringVar(&r.Recipient, "recipient", "", "age public `KEY` (age1...) to encrypt to, never an identity (default: backup.encryption.recipient)")
	fs.BoolVar(&r.AllowUnencrypted, "allow-unencrypted", false, "store plaintext snapshots when no recipient is set")
	fs.IntVar(&r.KeepLast, "keep-last", 0, "keep this many snapshots (default: backup.keep_last; 0 no limit)")
	fs.DurationVar(&r.MaxAge, "max-age", 0, "delete snapshots older than this (default: backup.max_age; 0 no limit)")
	fs.StringVar(&r.Textfile, "textfile", "", "update the Prometheus textfile `FILE` (node_exporter's textfile collector)")
	fs.StringVar(&r.WorkDir, "work-dir", "", "`DIR` where the plaintext snapshot is held while it is checked and encrypted (default: $TMPDIR)")
	fs.DurationVar(&r.Timeout, "timeout", time.Hour, "bound on the whole run")
	fs.StringVar(&r.EtcdCA, "etcd-ca", "", "CA bundle `FILE` that verifies an https endpoint (default: tls.tool.ca_file; ETCDFORM_ETCD_CA overrides both)")
	fs.StringVar(&r.EtcdCert, "etcd-cert", "", "client certificate `FILE` for an https endpoint, with --etcd-key (ETCDFORM_ETCD_CERT overrides it)")
	fs.StringVar(&r.EtcdKey, "etcd-key", "", "client key `FILE` for --etcd-cert (ETCDFORM_ETCD_KEY overrides it)")
	if err := parse(fs, args); err != nil {
		return r, fs, err
	}
	if err := positive(fs, "timeout"); err != nil {
		return r, fs, err
	}
	fs.Visit(func(f *flag.Flag) { r.Set[f.Name] = true })
	if err := r.path(fs, "backup run"); err != nil {
		return r, fs, err
	}
	if !r.FromConfig && (r.Endpoint == "" || r.Cluster == "") {
		return r, fs, errors.New("backup run: --destination without a configuration PATH needs --endpoint and --cluster")
	}
	if backup.IsIdentity(r.Recipient) {
		// Never echo it: it is a secret.
		return r, fs, errors.New("backup run: --recipient holds an age identity (AGE-SECRET-KEY-...), a secret key, not a recipient: pass its public key (age1..., which age-keygen -y prints) and keep the identity off the command line")
	}
	if (r.EtcdCert == "") != (r.EtcdKey == "") {
		return r, fs, errors.New("backup run: --etcd-cert and --etcd-key go together")
	}
	if r.KeepLast < 0 || r.MaxAge < 0 {
		return r, fs, errors.New("backup run: --keep-last and --max-age cannot be negative")
	}
	return r, fs, nil
}

// BackupList holds `etcdform backup list` arguments.
type BackupList struct {
	BackupTarget
	JSON bool
}

// ParseBackupList parses `etcdform backup list [--json] [flags] [PATH]`.
func ParseBackupList(args []string) (*BackupList, *flag.FlagSet, error) {
	l := &BackupList{}
	fs := newFlagSet("backup list", "backup list [flags] [PATH]", "")
	l.flags(fs)
	fs.BoolVar(&l.JSON, "json", false, "print the snapshots' records as JSON")
	if err := parse(fs, args); err != nil {
		return l, fs, err
	}
	return l, fs, l.path(fs, "backup list")
}

// BackupVerify holds `etcdform backup verify` arguments.
type BackupVerify struct {
	BackupTarget
	Latest   bool
	Snapshot string
	Identity string
	Etcd     string
	Etcdutl  string
	WorkDir  string
	JSON     bool
	Timeout  time.Duration
}

// ParseBackupVerify parses `etcdform backup verify [--latest | --snapshot
// ID] --identity FILE [flags] [PATH]`.
func ParseBackupVerify(args []string) (*BackupVerify, *flag.FlagSet, error) {
	v := &BackupVerify{}
	fs := newFlagSet("backup verify", "backup verify [--latest | --snapshot ID] --identity FILE [flags] [PATH]", "")
	v.flags(fs)
	fs.BoolVar(&v.Latest, "latest", false, "verify the newest snapshot (the default)")
	fs.StringVar(&v.Snapshot, "snapshot", "", "verify the snapshot with this `ID` (etcdform backup list shows them)")
	fs.StringVar(&v.Identity, "identity", "", "age identity `FILE` that decrypts the snapshots (never printed)")
	fs.StringVar(&v.Etcd, "etcd", "", "etcd binary `FILE` for the throwaway member (default: etcd on PATH, else etcdform's cached build)")
	fs.StringVar(&v.Etcdutl, "etcdutl", "", "etcdutl binary `FILE` for the restore (default: as --etcd)")
	fs.StringVar(&v.WorkDir, "work-dir", "", "`DIR` where the decrypted snapshot and the throwaway data dir live (default: $TMPDIR)")
	fs.BoolVar(&v.JSON, "json", false, "print the report as JSON")
	fs.DurationVar(&v.Timeout, "timeout", 30*time.Minute, "bound on the whole drill")
	if err := parse(fs, args); err != nil {
		return v, fs, err
	}
	if err := positive(fs, "timeout"); err != nil {
		return v, fs, err
	}
	if v.Latest && v.Snapshot != "" {
		return v, fs, errors.New("backup verify: --latest and --snapshot exclude each other")
	}
	return v, fs, v.path(fs, "backup verify")
}
