package backupjob

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/cron"
)

// OnCalendar fires when cron would: systemd's own calendar evaluation
// (systemd-analyze calendar) against internal/cron's.
func TestOnCalendarMatchesCron(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	iter := regexp.MustCompile(`(?m)(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC`)
	for _, expr := range []string{"0 */6 * * *", "@daily", "*/15 * * * *", "30 2 * * mon-fri", "0 0 1 * *", "5 3,15 * jan,jul *", "@weekly", "0 4 * * 7"} {
		t.Run(expr, func(t *testing.T) {
			cal, err := OnCalendar(expr)
			if err != nil {
				t.Fatal(err)
			}
			for attempt := 0; ; attempt++ {
				now := time.Now()
				cmd := exec.Command("systemd-analyze", "calendar", "--iterations=6", cal)
				cmd.Env = append(os.Environ(), "TZ=UTC")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("systemd-analyze calendar %q: %v\n%s", cal, err, out)
				}
				var got []string
				for _, m := range iter.FindAllStringSubmatch(string(out), -1) {
					got = append(got, m[1])
				}
				want, _ := cron.Next(expr, now.Add(-time.Second), 6)
				var ws []string
				for _, w := range want {
					ws = append(ws, w.Format("2006-01-02 15:04:05"))
				}
				if strings.Join(got, ",") == strings.Join(ws, ",") {
					return
				}
				if attempt == 1 { // a minute may have turned between the two evaluations
					t.Fatalf("OnCalendar %q fires at %v; cron %q at %v", cal, got, expr, ws)
				}
			}
		})
	}
	if _, err := OnCalendar("0 0 1 * mon"); err == nil {
		t.Fatal("a schedule restricting both day fields was accepted")
	}
}

func TestSystemdUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	s := testSpec()
	s.Binary = "/bin/true" // verify checks that ExecStart is executable
	s.Recipient = `age1 "quoted" $HOME 100%`
	svc, tmr, err := RenderSystemd(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	name := SystemdUnitName(s.Cluster)
	os.WriteFile(filepath.Join(dir, name+".service"), svc, 0o644)
	os.WriteFile(filepath.Join(dir, name+".timer"), tmr, 0o644)
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, name+".service"), filepath.Join(dir, name+".timer")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s\n--- service\n%s--- timer\n%s", err, out, svc, tmr)
	}
	if !strings.Contains(string(tmr), "OnCalendar=*-*-* 00,06,12,18:00:00 UTC\n") {
		t.Fatalf("timer:\n%s", tmr)
	}
}
