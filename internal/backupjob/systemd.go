package backupjob

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/etcdform/etcdform/internal/cron"
)

// SystemdDir is where apply installs the job's units.
const SystemdDir = "/etc/systemd/system"

// TimerUnit is the timer unit of cluster's job.
func TimerUnit(cluster string) string { return SystemdUnitName(cluster) + ".timer" }

// SystemdUnitName names the service and timer units of cluster's backup
// job (service.manager = "systemd").
func SystemdUnitName(cluster string) string {
	return "etcdform-backup-" + strings.ReplaceAll(cluster, ".", "_")
}

// OnCalendar converts a cron schedule into a systemd OnCalendar
// expression in UTC. A schedule restricting both the day of month and the
// day of week is refused: cron runs when either matches, a timer only when
// both do.
func OnCalendar(schedule string) (string, error) {
	f, err := cron.Expand(schedule)
	if err != nil {
		return "", err
	}
	if !f.AnyDay && !f.AnyWeekday {
		return "", fmt.Errorf("schedule %q restricts both the day of month and the day of week: cron runs when either matches, a systemd timer only when both do", schedule)
	}
	join := func(vs []int, all int, width int) string {
		if len(vs) == all {
			return "*"
		}
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = fmt.Sprintf("%0*d", width, v)
		}
		return strings.Join(parts, ",")
	}
	days := join(f.Days, 31, 2)
	if f.AnyDay {
		days = "*"
	}
	s := fmt.Sprintf("*-%s-%s %s:%s:00 UTC", join(f.Months, 12, 2), days, join(f.Hours, 24, 2), join(f.Minutes, 60, 2))
	if !f.AnyWeekday && len(f.Weekdays) < 7 {
		names := []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
		var ds []string
		for _, d := range f.Weekdays {
			ds = append(ds, names[d])
		}
		s = strings.Join(ds, ",") + " " + s
	}
	return s, nil
}

// RenderSystemd renders the service and timer units for s. The service
// carries the spec line, as the cron file does.
func RenderSystemd(s JobSpec) (service, timer []byte, err error) {
	if err := s.Encodable(); err != nil {
		return nil, nil, err
	}
	cal, err := OnCalendar(s.Schedule)
	if err != nil {
		return nil, nil, err
	}
	s.Version = JobFormatVersion
	var args []string
	for _, a := range append([]string{s.Binary}, s.Args()...) {
		args = append(args, systemdQuote(a))
	}
	var b bytes.Buffer
	writeHeader(&b, s)
	fmt.Fprintf(&b, "[Unit]\nDescription=etcdform backup of etcd cluster %s\nWants=network-online.target\nAfter=network-online.target\n\n", s.Cluster)
	fmt.Fprintf(&b, "[Service]\nType=oneshot\nEnvironmentFile=-%s\nExecStart=%s\n", s.EnvFile, strings.Join(args, " "))
	fmt.Fprintf(&b, "LogsDirectory=%s\nStandardOutput=append:%s\nStandardError=inherit\n", strings.TrimPrefix(LogDir, "/var/log/"), DefaultLog)
	service = b.Bytes()
	var t bytes.Buffer
	fmt.Fprintf(&t, "# Managed by etcdform: the schedule of %s.service.\n", SystemdUnitName(s.Cluster))
	fmt.Fprintf(&t, "[Unit]\nDescription=etcdform backup of etcd cluster %s (schedule %s)\n\n", s.Cluster, s.Schedule)
	fmt.Fprintf(&t, "[Timer]\nOnCalendar=%s\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n", cal)
	return service, t.Bytes(), nil
}

// systemdQuote quotes a word of ExecStart: double quotes, with \ " and $
// and % escaped as systemd reads them.
func systemdQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "%", "%%")
	q = strings.ReplaceAll(q, "$", "$$")
	return q
}
