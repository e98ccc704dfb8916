package lab_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// sshRun runs cmd on the host over the lab's SSH key and known_hosts.
func sshRun(t *testing.T, st *lab.State, h lab.Host, cmd string) (string, error) {
	t.Helper()
	c, err := sshClient(t, st, h.Addr)
	if err != nil {
		return "", fmt.Errorf("ssh %s: %w", h.Name, err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		return "", err
	}
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		return string(out), fmt.Errorf("ssh %s: %s: %w: %s", h.Name, cmd, err, out)
	}
	return string(out), nil
}

// labCgroups lists the cgroups of the lab's hosts in every hierarchy.
func labCgroups(prefix string) []string {
	var found []string
	for _, pat := range []string{"/sys/fs/cgroup/etcdform-" + prefix + "-*", "/sys/fs/cgroup/*/etcdform-" + prefix + "-*"} {
		m, _ := filepath.Glob(pat)
		found = append(found, m...)
	}
	return found
}

func TestLabSystemdE2E(t *testing.T) {
	// systemd must never clean this machine's /tmp (tmpfiles.d's `D /tmp`).
	sentinel, err := os.CreateTemp("", "etcdform-lab-sentinel-")
	if err != nil {
		t.Fatal(err)
	}
	sentinel.Close()
	defer os.Remove(sentinel.Name())

	st := labtest.Up(t, lab.Options{Members: 3, Init: lab.InitSystemd})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if st.Init != lab.InitSystemd {
		t.Fatalf("state init = %q, want %q", st.Init, lab.InitSystemd)
	}
	hcl, err := os.ReadFile(st.HCLFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hcl), `manager     = "systemd"`) {
		t.Fatalf("lab.hcl does not say manager = \"systemd\":\n%s", hcl)
	}

	t.Run("every host runs etcd and timers.target under its own systemd", func(t *testing.T) {
		for _, h := range st.Members() {
			out, err := sshRun(t, st, h, "hostname; systemctl is-system-running; systemctl is-active etcd timers.target; ps -o comm= -p 1")
			if err != nil {
				t.Fatal(err)
			}
			want := h.Name + "\nrunning\nactive\nactive\nsystemd\n"
			if out != want {
				t.Errorf("host %s: got %q, want %q", h.Name, out, want)
			}
		}
		for _, r := range st.Status(ctx) {
			if !r.Running || !r.Healthy || !r.Reachable {
				t.Errorf("status: %+v, want running, healthy and reachable", r)
			}
		}
	})

	t.Run("a backup job's timer is enabled and its service runs", func(t *testing.T) {
		// What apply installs for service.manager = "systemd": units with
		// default dependencies in /etc/systemd/system, enabled into
		// timers.target; the job writes the host's own /var/lib/etcdform.
		h := st.Members()[1]
		script := `set -e
cat > /etc/systemd/system/etcdform-backup-lab.service <<'EOF'
[Unit]
Wants=network-online.target
After=network-online.target
[Service]
Type=oneshot
EnvironmentFile=-/etc/etcdform/backup.env
ExecStart=/bin/sh -c 'hostname > /var/lib/etcdform/ran; touch /var/lib/prometheus/node-exporter/etcdform_backup.prom'
EOF
cat > /etc/systemd/system/etcdform-backup-lab.timer <<'EOF'
[Timer]
OnCalendar=*-*-* 03:00:00 UTC
Persistent=true
[Install]
WantedBy=timers.target
EOF
systemctl daemon-reload
systemctl enable --now etcdform-backup-lab.timer
systemctl start etcdform-backup-lab.service
systemctl is-active etcdform-backup-lab.timer
cat /var/lib/etcdform/ran`
		out, err := sshRun(t, st, h, script)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out, "active\n"+h.Name+"\n") {
			t.Fatalf("got %q, want the timer active and the job run on %s", out, h.Name)
		}
		if _, err := os.Lstat(filepath.Join(h.Root, "etc-systemd", "timers.target.wants", "etcdform-backup-lab.timer")); err != nil {
			t.Errorf("the enabled timer is not in the host's own /etc/systemd/system: %v", err)
		}
		other := st.Members()[0]
		if out, err := sshRun(t, st, other, "ls /var/lib/etcdform /etc/systemd/system"); err != nil || strings.Contains(out, "ran") || strings.Contains(out, "backup") {
			t.Errorf("host %s sees %s's files: %q %v", other.Name, h.Name, out, err)
		}
	})

	victim := st.Members()[0]
	waitHealthy := func(t *testing.T, h lab.Host) {
		t.Helper()
		labtest.Eventually(t, 30*time.Second, func() error {
			if !lab.Healthy(ctx, h.ClientURL()) {
				return fmt.Errorf("%s not healthy", h.Name)
			}
			return nil
		})
	}
	for _, down := range []string{lab.FaultStop, lab.FaultKill} {
		t.Run(down+" then start", func(t *testing.T) {
			if err := st.Fault(ctx, down, victim.Name); err != nil {
				t.Fatal(err)
			}
			out, _ := sshRun(t, st, victim, "systemctl is-active etcd")
			if got := strings.TrimSpace(out); got == "active" || got == "activating" {
				t.Fatalf("after %s: systemctl is-active etcd = %q", down, got)
			}
			for _, r := range st.Status(ctx) {
				if r.Name == victim.Name && (r.Running || r.Healthy) {
					t.Fatalf("status after %s: %+v, want not running and not healthy", down, r)
				}
			}
			if err := st.Fault(ctx, lab.FaultStart, victim.Name); err != nil {
				t.Fatal(err)
			}
			waitHealthy(t, victim)
		})
	}

	t.Run("down removes namespaces, processes and cgroups", func(t *testing.T) {
		pidsBefore := st.ProcessesLeft()
		if len(pidsBefore) == 0 {
			t.Fatal("no processes found in the lab's namespaces before down")
		}
		if len(labCgroups(st.Prefix)) == 0 {
			t.Fatal("no host cgroups found before down")
		}
		downLeavesNothing(ctx, t, st, pidsBefore)
		if left := labCgroups(st.Prefix); len(left) > 0 {
			t.Errorf("cgroups left after down: %v", left)
		}
		if _, err := os.Stat(sentinel.Name()); err != nil {
			t.Errorf("this machine's /tmp lost a file while the lab ran: %v", err)
		}
	})
}

func TestCleanStaleRemovesOrphanCgroups(t *testing.T) {
	labtest.SkipShort(t)
	if err := lab.PreflightInit(lab.InitSystemd); err != nil {
		if os.Getenv("ETCDFORM_E2E") == "required" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// Under the hierarchy systemd hosts use: name=systemd (v1 or hybrid)
	// or the unified one.
	root := "/sys/fs/cgroup/systemd"
	if _, err := os.Stat(root); err != nil {
		root = "/sys/fs/cgroup"
	}
	// No lab has these netns names: the prefixes are not hashes of a path
	// anyone uses, and the netns does not exist.
	orphan := filepath.Join(root, "etcdform-ef0000f-1")
	busy := filepath.Join(root, "etcdform-ef0000f-2")
	for _, d := range []string{filepath.Join(orphan, "system.slice", "etcd.service"), filepath.Join(orphan, "init.scope"), busy} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sleeper := exec.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleeper.Process.Kill()
		sleeper.Wait()
		labtest.Eventually(t, 5*time.Second, func() error { return os.Remove(busy) })
	})
	if err := os.WriteFile(filepath.Join(busy, "cgroup.procs"), []byte(fmt.Sprint(sleeper.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.CleanStale(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); err == nil {
		t.Errorf("orphan cgroup %s left by CleanStale", orphan)
	}
	if _, err := os.Stat(busy); err != nil {
		t.Errorf("CleanStale removed cgroup %s, which has a live process: %v", busy, err)
	}
}
