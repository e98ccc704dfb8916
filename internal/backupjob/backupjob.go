package backupjob

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/textcheck"
)

// Paths of the scheduled job on a host.
const (
	// DefaultBinary is where apply installs the etcdform binary the job runs.
	DefaultBinary = "/usr/local/bin/etcdform"
	// DefaultEnvFile holds the S3 credentials (AWS_ACCESS_KEY_ID=...), root
	// only. The operator provisions it; it is never in a plan.
	DefaultEnvFile = "/etc/etcdform/backup.env"
	// DefaultTextfile is node_exporter's textfile collector directory's file.
	DefaultTextfile = "/var/lib/prometheus/node-exporter/etcdform_backup.prom"
	// DefaultWorkDir holds the plaintext snapshot while the job checks and
	// encrypts it: root-only, on the host's disk, not a shared $TMPDIR.
	DefaultWorkDir = "/var/lib/etcdform/backup"
	// LogDir holds DefaultLog, where the job's output is appended by
	// either scheduler.
	LogDir     = "/var/log/etcdform"
	DefaultLog = LogDir + "/backup.log"
	// JobFormatVersion is the version of the spec line in the job files.
	JobFormatVersion = 2
)

// Scheduler is what runs the job on schedule.
type Scheduler string

const (
	// Cron is a file in /etc/cron.d.
	Cron Scheduler = "cron"
	// Systemd is a service unit and a timer unit in /etc/systemd/system.
	Systemd Scheduler = "systemd"
)

// SchedulerFor is the scheduler of hosts whose etcd runs under manager
// (schema.Service.Manager): a systemd timer where systemd supervises etcd,
// else cron.
func SchedulerFor(manager string) Scheduler {
	if manager == "systemd" {
		return Systemd
	}
	return Cron
}

// File is one file of an installed job.
type File struct {
	Path    string
	Content []byte
}

// Paths are the files of cluster's job under sch.
func Paths(cluster string, sch Scheduler) []string {
	if sch == Systemd {
		return []string{SystemdDir + "/" + SystemdUnitName(cluster) + ".service", SystemdDir + "/" + TimerUnit(cluster)}
	}
	return []string{CronPath(cluster)}
}

// Render renders the files of s's job under sch, in Paths order.
func Render(s JobSpec, sch Scheduler) ([]File, error) {
	paths := Paths(s.Cluster, sch)
	if sch == Systemd {
		svc, timer, err := RenderSystemd(s)
		if err != nil {
			return nil, err
		}
		return []File{{paths[0], svc}, {paths[1], timer}}, nil
	}
	b, err := RenderCron(s)
	if err != nil {
		return nil, err
	}
	return []File{{paths[0], b}}, nil
}

// Parse reads the job of cluster as installed under sch from files (path
// to content; a missing path is an absent file). It fails when a file is
// missing, has no spec line or another version, or was edited by hand.
func Parse(cluster string, sch Scheduler, files map[string][]byte) (JobSpec, error) {
	paths := Paths(cluster, sch)
	for _, p := range paths {
		if files[p] == nil {
			return JobSpec{}, fmt.Errorf("backup job: %s is missing", p)
		}
	}
	if sch == Cron {
		return ParseCron(files[paths[0]])
	}
	s, err := parseSpec(files[paths[0]])
	if err != nil {
		return s, err
	}
	svc, timer, err := RenderSystemd(s)
	if err != nil {
		return s, fmt.Errorf("backup job: %w", err)
	}
	if !bytes.Equal(svc, files[paths[0]]) || !bytes.Equal(timer, files[paths[1]]) {
		return s, fmt.Errorf("backup job units: edited by hand")
	}
	return s, nil
}

// Check reports whether job describes a job of cluster that this
// etcdform could have planned: its files are exactly the scheduler's
// (Paths) and parse, the timer is the cluster's, and it removes only the
// cluster's job files and credentials. Apply runs what a job says as root,
// so a plan file's job is checked before it is trusted. It returns the
// spec the written files record (zero when none are written).
func Check(cluster string, sch Scheduler, write map[string][]byte, remove, stopTimers []string, timer string) (JobSpec, error) {
	var spec JobSpec
	if len(write) > 0 {
		switch sch {
		case Cron, Systemd:
		default:
			return spec, fmt.Errorf("unknown scheduler %q", sch)
		}
		paths := Paths(cluster, sch)
		if len(write) != len(paths) {
			return spec, fmt.Errorf("a %s job of cluster %s is %d files, not %d", sch, cluster, len(paths), len(write))
		}
		var err error
		if spec, err = Parse(cluster, sch, write); err != nil {
			return spec, err
		}
		want := ""
		if sch == Systemd {
			want = TimerUnit(cluster)
		}
		if timer != want {
			return spec, fmt.Errorf("timer %q is not %q", timer, want)
		}
	} else if timer != "" {
		return spec, fmt.Errorf("timer %q without job files", timer)
	}
	removable := map[string]bool{DefaultEnvFile: true, DefaultEnvFile + ".bak": true}
	for _, s := range []Scheduler{Cron, Systemd} {
		for _, p := range Paths(cluster, s) {
			removable[p], removable[p+".bak"] = true, true
		}
	}
	for _, p := range remove {
		if !removable[p] || write[p] != nil {
			return spec, fmt.Errorf("removing %s: not a file of cluster %s's backup job", p, cluster)
		}
	}
	for _, t := range stopTimers {
		if t != TimerUnit(cluster) {
			return spec, fmt.Errorf("stopping %s: not the timer of cluster %s's backup job", t, cluster)
		}
	}
	return spec, nil
}

// RunCommand is the shell command that runs s's job once, now, the way
// its scheduler does (systemctl waits for the oneshot service to finish
// and fails when it fails). Its output goes to DefaultLog.
func RunCommand(s JobSpec, sch Scheduler) string {
	if sch == Systemd {
		return "systemctl start " + SystemdUnitName(s.Cluster) + ".service"
	}
	return s.shellCommand()
}

// shellCommand is the cron job's command: it sources EnvFile (when
// readable) for the S3 credentials, then runs the job, appending its
// output to DefaultLog.
func (s JobSpec) shellCommand() string {
	var cmd []string
	for _, a := range append([]string{s.Binary}, s.Args()...) {
		cmd = append(cmd, shellQuote(a))
	}
	return fmt.Sprintf("[ -r %s ] && set -a && . %s; set +a; mkdir -p %s && exec %s >>%s 2>&1",
		shellQuote(s.EnvFile), shellQuote(s.EnvFile), LogDir, strings.Join(cmd, " "), DefaultLog)
}

// CronPath is the cron.d file of cluster's backup job. cron ignores
// cron.d names with dots, so a cluster name's dots become underscores.
func CronPath(cluster string) string {
	return "/etc/cron.d/etcdform-backup-" + strings.ReplaceAll(cluster, ".", "_")
}

// JobSpec is the backup job as installed on one host: what plan observes
// and diffs, and what apply writes. It holds no secret (the recipient is a
// public key; S3 credentials stay in EnvFile on the host).
type JobSpec struct {
	Version          int           `json:"version"`
	Cluster          string        `json:"cluster"`
	Member           string        `json:"member"`
	Schedule         string        `json:"schedule"`
	Binary           string        `json:"binary"`
	BinarySHA256     string        `json:"binary_sha256,omitempty"`
	Endpoint         string        `json:"endpoint"`
	Destination      string        `json:"destination"`
	S3Endpoint       string        `json:"s3_endpoint,omitempty"`
	S3Region         string        `json:"s3_region,omitempty"`
	S3PathStyle      bool          `json:"s3_path_style,omitempty"`
	Recipient        string        `json:"recipient,omitempty"`
	AllowUnencrypted bool          `json:"allow_unencrypted,omitempty"`
	KeepLast         int           `json:"keep_last,omitempty"`
	MaxAge           time.Duration `json:"max_age,omitempty"`
	Textfile         string        `json:"textfile"`
	EnvFile          string        `json:"env_file"`
	WorkDir          string        `json:"work_dir,omitempty"`
	// EtcdCA, EtcdCert and EtcdKey are files on the host the job's etcd
	// client uses on an https endpoint: the CA bundle that verifies the
	// member, and the client certificate and key it authenticates with
	// (the member's own client-side files; they need the clientAuth
	// usage, as etcd's peer certificates have).
	EtcdCA   string `json:"etcd_ca,omitempty"`
	EtcdCert string `json:"etcd_cert,omitempty"`
	EtcdKey  string `json:"etcd_key,omitempty"`
}

// Args is the job's command line after the binary.
func (s JobSpec) Args() []string {
	a := []string{"backup", "run", "--cluster", s.Cluster, "--endpoint", s.Endpoint, "--destination", s.Destination}
	if s.S3Endpoint != "" {
		a = append(a, "--s3-endpoint", s.S3Endpoint)
	}
	if s.S3Region != "" {
		a = append(a, "--s3-region", s.S3Region)
	}
	if s.S3PathStyle {
		a = append(a, "--s3-path-style")
	}
	if s.Recipient != "" {
		a = append(a, "--recipient", s.Recipient)
	}
	if s.AllowUnencrypted {
		a = append(a, "--allow-unencrypted")
	}
	if s.KeepLast > 0 {
		a = append(a, "--keep-last", strconv.Itoa(s.KeepLast))
	}
	if s.MaxAge > 0 {
		a = append(a, "--max-age", s.MaxAge.String())
	}
	if s.Textfile != "" {
		a = append(a, "--textfile", s.Textfile)
	}
	if s.WorkDir != "" {
		a = append(a, "--work-dir", s.WorkDir)
	}
	for _, f := range []struct{ flag, v string }{{"--etcd-ca", s.EtcdCA}, {"--etcd-cert", s.EtcdCert}, {"--etcd-key", s.EtcdKey}} {
		if f.v != "" {
			a = append(a, f.flag, f.v)
		}
	}
	return a
}

const specPrefix = "# etcdform-backup-spec: "

// RenderCron renders the cron.d file for s. Its spec line records s
// exactly, so ParseCron reads back what was installed. It refuses a spec
// with a value the file cannot carry (see Encodable): cron reads one job per
// line and runs it as root.
func RenderCron(s JobSpec) ([]byte, error) {
	if err := s.Encodable(); err != nil {
		return nil, err
	}
	s.Version = JobFormatVersion
	var b bytes.Buffer
	writeHeader(&b, s)
	b.WriteString("SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
	fmt.Fprintf(&b, "%s root %s\n", s.Schedule, strings.ReplaceAll(s.shellCommand(), "%", `\%`))
	return b.Bytes(), nil
}

// Encodable reports a value of s that a job file cannot carry safely: any
// character that ends a line or is a control character (see
// textcheck.ControlRune), a schedule that is more than cron fields, or a path that
// is not absolute. The schema refuses such configurations; this is the
// renderers' own check, so that nothing it misses reaches a host.
func (s JobSpec) Encodable() error {
	fields := []struct{ name, v string }{
		{"cluster", s.Cluster}, {"member", s.Member}, {"schedule", s.Schedule}, {"binary", s.Binary},
		{"binary_sha256", s.BinarySHA256}, {"endpoint", s.Endpoint}, {"destination", s.Destination},
		{"s3.endpoint", s.S3Endpoint}, {"s3.region", s.S3Region}, {"recipient", s.Recipient},
		{"textfile", s.Textfile}, {"env_file", s.EnvFile}, {"work_dir", s.WorkDir},
		{"etcd_ca", s.EtcdCA}, {"etcd_cert", s.EtcdCert}, {"etcd_key", s.EtcdKey},
	}
	for _, f := range fields {
		if r, _, ok := textcheck.ControlRune(f.v); ok {
			return fmt.Errorf("backup job: the %s %q contains %s, which a job file cannot carry", f.name, f.v, textcheck.RuneName(r))
		}
	}
	if strings.Trim(s.Schedule, "0123456789*/,- @abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" || s.Schedule == "" {
		return fmt.Errorf("backup job: the schedule %q is not a cron expression", s.Schedule)
	}
	for _, f := range []struct {
		name, v  string
		optional bool // the TLS files: only on an https endpoint
	}{{"binary", s.Binary, false}, {"env_file", s.EnvFile, false},
		{"etcd_ca", s.EtcdCA, true}, {"etcd_cert", s.EtcdCert, true}, {"etcd_key", s.EtcdKey, true}} {
		if f.optional && f.v == "" {
			continue
		}
		if !strings.HasPrefix(f.v, "/") {
			return fmt.Errorf("backup job: the %s %q is not an absolute path", f.name, f.v)
		}
	}
	return nil
}

// writeHeader writes the comment lines every job file starts with: who
// manages it, and the spec line that records s exactly.
func writeHeader(b *bytes.Buffer, s JobSpec) {
	spec, _ := json.Marshal(s) // plain fields: cannot fail
	fmt.Fprintf(b, "# Managed by etcdform: the backup job of cluster %s on member %s. Edits are undone by apply.\n", s.Cluster, s.Member)
	fmt.Fprintf(b, "%s%s\n", specPrefix, spec)
}

// ParseCron reads an installed cron.d file. It fails when the file has no
// spec line, a spec of another version, or was edited by hand (its bytes
// differ from what its spec renders): plan shows such a file as changed.
func ParseCron(b []byte) (JobSpec, error) {
	s, err := parseSpec(b)
	if err != nil {
		return s, err
	}
	want, err := RenderCron(s)
	if err != nil {
		return s, err
	}
	if !bytes.Equal(want, b) {
		return s, fmt.Errorf("backup job file: edited by hand")
	}
	return s, nil
}

// parseSpec reads the spec line of a job file.
func parseSpec(b []byte) (JobSpec, error) {
	var s JobSpec
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), specPrefix); ok {
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				return s, fmt.Errorf("backup job file: spec line: %w", err)
			}
			if s.Version != JobFormatVersion {
				return s, fmt.Errorf("backup job file: spec version %d, this etcdform writes %d", s.Version, JobFormatVersion)
			}
			return s, nil
		}
	}
	return s, fmt.Errorf("backup job file: not written by etcdform (no spec line)")
}

// JobChange is one attribute that differs between the wanted and the
// installed job.
type JobChange struct{ Attr, Before, After string }

// DiffJob lists what differs between want and got (nil: not installed).
func DiffJob(want JobSpec, got *JobSpec) []JobChange {
	if got == nil {
		return []JobChange{{Attr: "job", Before: "(absent)", After: want.Schedule}}
	}
	flat := func(s JobSpec) map[string]string {
		return map[string]string{
			"schedule": s.Schedule, "binary": s.Binary, "binary_sha256": s.BinarySHA256, "endpoint": s.Endpoint,
			"destination": s.Destination, "s3.endpoint": s.S3Endpoint, "s3.region": s.S3Region,
			"s3.path_style": strconv.FormatBool(s.S3PathStyle), "recipient": s.Recipient,
			"allow_unencrypted": strconv.FormatBool(s.AllowUnencrypted), "keep_last": strconv.Itoa(s.KeepLast),
			"max_age": s.MaxAge.String(), "textfile": s.Textfile, "env_file": s.EnvFile, "work_dir": s.WorkDir,
		}
	}
	w, g := flat(want), flat(*got)
	var out []JobChange
	for k, v := range w {
		if g[k] != v {
			out = append(out, JobChange{Attr: k, Before: g[k], After: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attr < out[j].Attr })
	return out
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
