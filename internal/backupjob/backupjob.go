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

	"github.com/etcdform/etcdform/schema"
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
	// JobFormatVersion is the version of the spec line in the cron file.
	JobFormatVersion = 1
)

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
}

// SpecFor is the job cluster c wants on member's host; binarySHA256 is the
// hash of the binary apply installs at DefaultBinary.
func SpecFor(c *schema.Cluster, member *schema.Member, binarySHA256 string) JobSpec {
	b := c.Backup
	s := JobSpec{Version: JobFormatVersion, Cluster: c.Name, Member: member.Name, Schedule: b.Schedule,
		Binary: DefaultBinary, BinarySHA256: binarySHA256, Endpoint: member.ClientURL, Destination: b.Destination,
		Recipient: b.Recipient, AllowUnencrypted: b.AllowUnencrypted, KeepLast: b.KeepLast, MaxAge: b.MaxAge,
		Textfile: DefaultTextfile, EnvFile: DefaultEnvFile}
	if b.S3 != nil {
		s.S3Endpoint, s.S3Region, s.S3PathStyle = b.S3.Endpoint, b.S3.Region, b.S3.PathStyle
	}
	return s
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
	return a
}

const specPrefix = "# etcdform-backup-spec: "

// RenderCron renders the cron.d file for s. Its spec line records s
// exactly, so ParseCron reads back what was installed; the job line
// sources EnvFile (when present) for the S3 credentials.
func RenderCron(s JobSpec) []byte {
	s.Version = JobFormatVersion
	spec, _ := json.Marshal(s) // plain fields: cannot fail
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Managed by etcdform: the backup job of cluster %s on member %s. Edits are undone by apply.\n", s.Cluster, s.Member)
	fmt.Fprintf(&b, "%s%s\n", specPrefix, spec)
	b.WriteString("SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
	var cmd []string
	for _, a := range append([]string{s.Binary}, s.Args()...) {
		cmd = append(cmd, shellQuote(a))
	}
	fmt.Fprintf(&b, "%s root [ -r %s ] && set -a && . %s; set +a; exec %s >>/var/log/etcdform-backup.log 2>&1\n",
		s.Schedule, shellQuote(s.EnvFile), shellQuote(s.EnvFile), strings.ReplaceAll(strings.Join(cmd, " "), "%", `\%`))
	return b.Bytes()
}

// ParseCron reads an installed cron.d file. It fails when the file has no
// spec line, a spec of another version, or was edited by hand (its bytes
// differ from what its spec renders): plan shows such a file as changed.
func ParseCron(b []byte) (JobSpec, error) {
	var s JobSpec
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := false
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), specPrefix); ok {
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				return s, fmt.Errorf("backup job file: spec line: %w", err)
			}
			found = true
			break
		}
	}
	switch {
	case !found:
		return s, fmt.Errorf("backup job file: not written by etcdform (no spec line)")
	case s.Version != JobFormatVersion:
		return s, fmt.Errorf("backup job file: spec version %d, this etcdform writes %d", s.Version, JobFormatVersion)
	case !bytes.Equal(RenderCron(s), b):
		return s, fmt.Errorf("backup job file: edited by hand")
	}
	return s, nil
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
			"max_age": s.MaxAge.String(), "textfile": s.Textfile, "env_file": s.EnvFile,
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
