package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/etcdform/etcdform/internal/backup"
	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/internal/connect"
	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/version"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/providers/etcd"
	"github.com/etcdform/etcdform/schema"
)

func init() { register("backup", "Run, list and verify (restore-drill) backups", runBackup) }

const backupUsage = `Usage: etcdform backup <run|list|verify> [flags] [PATH]

  run     snapshot a member, check it, encrypt it, upload it, apply retention
  list    list the snapshots at a cluster's destination
  verify  restore drill: fetch, decrypt, restore into a throwaway etcd, compare
`

func runBackup(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		printError(env, "backup: missing subcommand (run, list, verify)\n")
		fmt.Fprint(env.Stderr, backupUsage)
		return 1
	}
	switch args[0] {
	case "run":
		return runBackupRun(ctx, env, args[1:])
	case "list":
		return runBackupList(ctx, env, args[1:])
	case "verify":
		return runBackupVerify(ctx, env, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, backupUsage)
		return 0
	}
	printError(env, "backup: unknown subcommand %q (want run, list, verify)\n", args[0])
	fmt.Fprint(env.Stderr, backupUsage)
	return 1
}

// backupTarget resolves where backups are: the configuration's cluster
// (nil in flag-only mode) and its backup block with the flags applied.
func backupTarget(env *Env, t *arguments.BackupTarget) (*schema.Cluster, schema.Backup, bool) {
	var b schema.Backup
	var cl *schema.Cluster
	if t.FromConfig {
		cfg, ok := loadConfig(env, t.Path, t.Vars, t.VarFiles)
		if !ok {
			return nil, b, false
		}
		var err error
		if cl, err = backupCluster(cfg, t.Cluster); err != nil {
			printError(env, "%v", err)
			return nil, b, false
		}
		if cl.Backup != nil {
			b = *cl.Backup
			if b.S3 != nil {
				s3 := *b.S3
				b.S3 = &s3
			}
		} else if t.Destination == "" {
			printError(env, "cluster %s has no backup block (or give --destination)", cl.Name)
			return nil, b, false
		}
	}
	if t.Destination != "" {
		b.Destination = t.Destination
	}
	if t.S3Endpoint != "" || t.S3Region != "" || t.S3PathStyle {
		if b.S3 == nil {
			b.S3 = &schema.S3Options{}
		}
		if t.S3Endpoint != "" {
			b.S3.Endpoint = t.S3Endpoint
		}
		if t.S3Region != "" {
			b.S3.Region = t.S3Region
		}
		b.S3.PathStyle = b.S3.PathStyle || t.S3PathStyle
	}
	return cl, b, true
}

// backupMember is the member `backup run` snapshots: the one named by
// --member, else the first of backup.on. Without either it names the
// members to choose from rather than guess.
func backupMember(cl *schema.Cluster, name string, on []string) (*schema.Member, error) {
	var names []string
	for _, m := range cl.Members {
		names = append(names, m.Name)
	}
	switch {
	case name != "":
		if m := cl.Member(name); m != nil {
			return m, nil
		}
		return nil, fmt.Errorf("cluster %s has no member %q; its members are %s", cl.Name, name, strings.Join(names, ", "))
	case len(on) > 0 && cl.Member(on[0]) != nil:
		return cl.Member(on[0]), nil
	}
	return nil, fmt.Errorf("cluster %s has no backup.on to take the member from: give --member (one of %s) or --endpoint", cl.Name, strings.Join(names, ", "))
}

// backupCluster picks the cluster named name, or the only one (with a
// backup block, when several exist).
func backupCluster(cfg *schema.Config, name string) (*schema.Cluster, error) {
	if name != "" {
		for _, c := range cfg.Clusters {
			if c.Name == name {
				return c, nil
			}
		}
		return nil, fmt.Errorf("no cluster named %q in %s", name, cfg.Dir)
	}
	var with []*schema.Cluster
	for _, c := range cfg.Clusters {
		if c.Backup != nil {
			with = append(with, c)
		}
	}
	switch {
	case len(cfg.Clusters) == 1:
		return cfg.Clusters[0], nil
	case len(with) == 1:
		return with[0], nil
	case len(cfg.Clusters) == 0:
		return nil, fmt.Errorf("no cluster in %s", cfg.Dir)
	}
	var names []string
	for _, c := range cfg.Clusters {
		names = append(names, c.Name)
	}
	return nil, fmt.Errorf("several clusters in %s (%s): choose one with --cluster", cfg.Dir, strings.Join(names, ", "))
}

// targetStore resolves the command's backup target and opens its
// destination, printing any problem to stderr under the command's name.
func targetStore(env *Env, name string, t *arguments.BackupTarget) (*schema.Cluster, backupstore.Store, bool) {
	cl, b, ok := backupTarget(env, t)
	if !ok {
		return nil, nil, false
	}
	s, err := openStore(env, b)
	if err != nil {
		printError(env, "%s: %v", name, err)
		return nil, nil, false
	}
	return cl, s, true
}

func openStore(env *Env, b schema.Backup) (backupstore.Store, error) {
	opts := backupstore.Options{Getenv: env.Getenv}
	if b.S3 != nil {
		opts.Endpoint, opts.Region, opts.PathStyle = b.S3.Endpoint, b.S3.Region, b.S3.PathStyle
	}
	if b.Destination == "" {
		return nil, errors.New("no backup destination")
	}
	return backupstore.Open(b.Destination, opts)
}

func runBackupRun(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseBackupRun(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	cl, b, ok := backupTarget(env, &a.BackupTarget)
	if !ok {
		return 1
	}
	endpoint := a.Endpoint
	if cl != nil && endpoint == "" {
		m, err := backupMember(cl, a.Member, b.On)
		if err != nil {
			printError(env, "backup run: %v", err)
			return 1
		}
		endpoint = m.ClientURL
	}
	j, err := backupJob(cl, b, endpoint, schema.ToolTLS{CAFile: a.EtcdCA, CertFile: a.EtcdCert, KeyFile: a.EtcdKey})
	if err != nil {
		printError(env, "backup run: %v", err)
		return 1
	}
	if cl == nil {
		j.Cluster = a.Cluster
	}
	j.Textfile, j.WorkDir = a.Textfile, a.WorkDir
	if a.Set["recipient"] {
		j.Recipient = a.Recipient
	}
	if a.Set["allow-unencrypted"] {
		j.AllowUnencrypted = a.AllowUnencrypted
	}
	if a.Set["keep-last"] {
		j.KeepLast = a.KeepLast
	}
	if a.Set["max-age"] {
		j.MaxAge = a.MaxAge
	}
	s, err := openStore(env, b)
	if err != nil {
		printError(env, "backup run: %v", err)
		if a.Textfile != "" {
			_ = backup.WriteTextfile(a.Textfile, backup.Metrics{Cluster: j.Cluster, RunTime: time.Now(), Success: false})
		}
		return 1
	}
	j.Store = s
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	res, err := backup.Run(ctx, j)
	if res != nil {
		views.BackupRun(env.Stdout, s.String(), res)
	}
	if err != nil {
		printError(env, "backup run: %v", err)
		return 1
	}
	return 0
}

func runBackupList(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseBackupList(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	cl, s, ok := targetStore(env, "backup list", &a.BackupTarget)
	if !ok {
		return 1
	}
	all, bad, err := backupstore.List(ctx, s)
	if err != nil {
		printError(env, "backup list: %v", err)
		return 1
	}
	cluster := a.Cluster
	if cl != nil {
		cluster = cl.Name
	}
	var ms []backupstore.Meta
	for _, m := range all {
		if cluster == "" || m.Cluster == cluster {
			ms = append(ms, m)
		}
	}
	for _, e := range bad {
		fmt.Fprintf(env.Stderr, "Warning: %v\n", e)
	}
	if a.JSON {
		if ms == nil {
			ms = []backupstore.Meta{}
		}
		return views.WriteJSON(env.Stdout, ms)
	}
	views.BackupList(env.Stdout, s.String(), ms)
	return 0
}

func runBackupVerify(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseBackupVerify(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	cl, s, ok := targetStore(env, "backup verify", &a.BackupTarget)
	if !ok {
		return 1
	}
	d := backup.Drill{Store: s, ID: a.Snapshot, Cluster: a.Cluster, WorkDir: a.WorkDir}
	if cl != nil {
		d.Cluster = cl.Name
	}
	if a.Identity != "" {
		ids, err := readIdentities(a.Identity)
		if err != nil {
			printError(env, "backup verify: %v", err)
			return 1
		}
		d.Identities = ids
	}
	if d.Etcd, d.Etcdutl, err = drillBinaries(a.Etcd, a.Etcdutl); err != nil {
		printError(env, "backup verify: %v", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	rep, err := backup.Verify(ctx, d)
	if rep != nil && (err == nil || errors.Is(err, backup.ErrMismatch)) {
		if a.JSON {
			views.WriteJSON(env.Stdout, views.NewDrillJSON(rep))
		} else {
			views.BackupDrill(env.Stdout, rep)
		}
	}
	if err != nil {
		printError(env, "backup verify: %v", err)
		return 1
	}
	return 0
}

// readIdentities parses an age identity file. Its content is never
// printed: a parse error names only the file.
func readIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity file %s is not an age identity file", path)
	}
	return ids, nil
}

// drillBinaries finds etcd and etcdutl: the flags, else PATH, else
// etcdform's cached build (never built here).
func drillBinaries(etcdBin, etcdutl string) (string, string, error) {
	cache, _ := etcdbin.CacheDir(etcdbin.DefaultVersion)
	find := func(given, name string) (string, error) {
		if given != "" {
			return given, nil
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		if p := filepath.Join(cache, name); cache != "" && fileExists(p) {
			return p, nil
		}
		return "", fmt.Errorf("no %s binary: give --%s, or put it on PATH", name, name)
	}
	e, err := find(etcdBin, "etcd")
	if err != nil {
		return "", "", err
	}
	u, err := find(etcdutl, "etcdutl")
	return e, u, err
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// preApplyBackup is apply's pre-change snapshot for a cluster with a
// backup block: the same job as `backup run`, from the first member of
// `on`, to the cluster's destination, with its retention.
func preApplyBackup(env *Env, cfg *schema.Config) func(ctx context.Context, cluster string) error {
	return func(ctx context.Context, cluster string) error {
		var c *schema.Cluster
		for _, cl := range cfg.Clusters {
			if cl.Name == cluster {
				c = cl
			}
		}
		if c == nil || c.Backup == nil {
			return fmt.Errorf("the configuration gives cluster %s no backup block", cluster)
		}
		b := *c.Backup
		var m *schema.Member
		if len(b.On) > 0 {
			m = c.Member(b.On[0])
		}
		if m == nil {
			return fmt.Errorf("backup.on names no member of cluster %s", c.Name)
		}
		s, err := openStore(env, b)
		if err != nil {
			return err
		}
		j, err := backupJob(c, b, m.ClientURL, schema.ToolTLS{})
		if err != nil {
			return err
		}
		j.Store = s
		_, err = backup.Run(ctx, j)
		return err
	}
}

// backupJob assembles the backup job that snapshots endpoint, with the
// encryption and retention of b and the client TLS of cl (nil: a bare
// endpoint, plain or with the system's roots), whose tool files the ones
// set in files replace (the environment still overrides them). The
// caller adds the store.
func backupJob(cl *schema.Cluster, b schema.Backup, endpoint string, files schema.ToolTLS) (backup.Job, error) {
	j := backup.Job{Endpoint: endpoint, Recipient: b.Recipient, AllowUnencrypted: b.AllowUnencrypted,
		KeepLast: b.KeepLast, MaxAge: b.MaxAge}
	tlsCluster := &schema.Cluster{Members: []*schema.Member{{ClientURL: endpoint}}}
	if cl != nil {
		j.Cluster, tlsCluster = cl.Name, cl
	}
	ct := plan.ClusterTargetOf(tlsCluster)
	for _, f := range []struct {
		dst *string
		v   string
	}{{&ct.CAFile, files.CAFile}, {&ct.CertFile, files.CertFile}, {&ct.KeyFile, files.KeyFile}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	tc, err := connect.TargetTLS(ct)
	if err != nil {
		return backup.Job{}, err
	}
	if tc != nil {
		j.EtcdOptions = append(j.EtcdOptions, etcd.WithTLS(tc))
	}
	ao, err := connect.AuthOptions(cl)
	if err != nil {
		return backup.Job{}, err
	}
	j.EtcdOptions = append(j.EtcdOptions, ao...)
	return j, nil
}

// backupTool is this etcdform binary, which apply installs on the hosts
// that run backup jobs; zero when no cluster has a backup block.
func backupTool(cfg *schema.Config) plan.Tool {
	need := false
	for _, c := range cfg.Clusters {
		need = need || c.Backup != nil
	}
	if !need {
		return plan.Tool{}
	}
	exe, err := os.Executable()
	if err != nil {
		return plan.Tool{}
	}
	f, err := os.Open(exe)
	if err != nil {
		return plan.Tool{}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return plan.Tool{}
	}
	return plan.Tool{Path: exe, SHA256: hex.EncodeToString(h.Sum(nil)), Version: version.Version}
}
