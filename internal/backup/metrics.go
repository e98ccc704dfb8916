package backup

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Metrics is one run's outcome for the Prometheus textfile.
type Metrics struct {
	Cluster  string
	RunTime  time.Time
	Duration time.Duration
	Success  bool
	Size     int64 // stored bytes of the new snapshot (success only)
}

// Metric names in the textfile.
const (
	MetricLastSuccess = "etcdform_backup_last_success_timestamp_seconds"
	MetricLastRun     = "etcdform_backup_last_run_timestamp_seconds"
	MetricLastOK      = "etcdform_backup_last_run_success"
	MetricSize        = "etcdform_backup_last_size_bytes"
	MetricDuration    = "etcdform_backup_last_duration_seconds"
	MetricFailures    = "etcdform_backup_failures_total"
)

// WriteTextfile updates the textfile at path with m, keeping the previous
// file's last success (time, size, duration) when m is a failure and
// adding to its failure count. It writes a temporary file in the same
// directory and renames it, so node_exporter never reads half a file.
func WriteTextfile(path string, m Metrics) error {
	prev := ReadTextfile(path)
	vals := map[string]float64{
		MetricLastRun:  float64(m.RunTime.Unix()),
		MetricFailures: prev[MetricFailures],
	}
	for _, k := range []string{MetricLastSuccess, MetricSize, MetricDuration} {
		if v, ok := prev[k]; ok {
			vals[k] = v
		}
	}
	if m.Success {
		vals[MetricLastOK] = 1
		vals[MetricLastSuccess] = float64(m.RunTime.Unix())
		vals[MetricSize] = float64(m.Size)
		vals[MetricDuration] = m.Duration.Seconds()
	} else {
		vals[MetricLastOK] = 0
		vals[MetricFailures]++
	}
	help := []struct{ name, typ, help string }{
		{MetricLastSuccess, "gauge", "Unix time of the last successful backup."},
		{MetricLastRun, "gauge", "Unix time of the last backup run."},
		{MetricLastOK, "gauge", "1 when the last backup run succeeded, else 0."},
		{MetricSize, "gauge", "Stored bytes of the last successful backup."},
		{MetricDuration, "gauge", "Seconds the last successful backup took."},
		{MetricFailures, "counter", "Failed backup runs."},
	}
	var b strings.Builder
	label := fmt.Sprintf("{cluster=%q}", m.Cluster)
	for _, h := range help {
		v, ok := vals[h.name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s%s %s\n", h.name, h.help, h.name, h.typ, h.name, label,
			strconv.FormatFloat(v, 'f', -1, 64))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("backup: textfile: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("backup: textfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: textfile: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: textfile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: textfile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("backup: textfile: %w", err)
	}
	return nil
}

// ReadTextfile returns the metric values in a textfile written by
// WriteTextfile (labels ignored); a missing or unreadable file is empty.
func ReadTextfile(path string) map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i, j := strings.IndexByte(line, '{'), strings.IndexByte(line, '}'); i > 0 && j > i {
			name, rest, ok = line[:i], line[j+1:], true
		}
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
			out[name] = v
		}
	}
	return out
}
