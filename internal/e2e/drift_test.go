package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// runningQuota is the quota the member's etcd process runs with, from its
// /metrics on the client URL.
func runningQuota(t *testing.T, h lab.Host) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.ClientURL()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: /metrics: %v", h.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^etcd_server_quota_backend_bytes (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("%s: no etcd_server_quota_backend_bytes in /metrics", h.Name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64) // "3.221225472e+09"
	if err != nil {
		t.Fatalf("%s: etcd_server_quota_backend_bytes %q: %v", h.Name, m[1], err)
	}
	return strconv.FormatInt(int64(v), 10)
}

// fileQuota is the quota in the member's config file.
func fileQuota(t *testing.T, h lab.Host) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.Root, "etc-etcd", "etcd.conf.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^quota-backend-bytes: (\d+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s: no quota-backend-bytes in the config file:\n%s", h.Name, data)
	}
	return string(m[1])
}

// TestApplyKilledBetweenWriteAndRestartConverges covers issue 13 #3: apply
// is SIGKILLed right after it wrote a member's config file, before that
// member's restart. The process then runs the old quota while the file
// holds the new one; the next plan must restart that member, and after its
// apply every process runs the value its file holds.
func TestApplyKilledBetweenWriteAndRestartConverges(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	dir := config(t, st, withStorage("3GiB"))
	pf := planFile(t, dir)
	const want = "3221225472"

	cmd := exec.Command(binary, applyArgs(t, pf)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // one stream, read below
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read the progress as it streams; kill at the first config written.
	written := regexp.MustCompile(`step \d+/\d+ write-config (\S+): done`)
	victim := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			t.Logf("apply: %s", sc.Text())
			if m := written.FindStringSubmatch(sc.Text()); m != nil && !sent {
				_ = cmd.Process.Kill()
				victim <- m[1]
				sent = true
			}
		}
		if !sent {
			close(victim)
		}
	}()
	var name string
	select {
	case n, ok := <-victim:
		if !ok {
			t.Fatal("apply ended without writing a config")
		}
		name = n
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("apply wrote no config within 3 minutes")
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("apply was not killed")
	}
	h, err := st.Host(name)
	if err != nil {
		t.Fatal(err)
	}
	// The drift the issue describes: the file is new, the process old.
	if got := fileQuota(t, *h); got != want {
		t.Fatalf("%s: file quota %s after its write-config, want %s", name, got, want)
	}
	if got := runningQuota(t, *h); got == want {
		t.Fatalf("%s already runs the new quota: apply was killed too late to test anything", name)
	}

	// The next plan restarts the written member.
	p, code := planAsJSON(t, dir)
	if code != 2 {
		t.Fatalf("plan after the kill: exit %d, want 2", code)
	}
	restarted := false
	for _, s := range p.Steps {
		if s.Action == "restart" && s.Member == name {
			for _, c := range s.Changes {
				restarted = restarted || c.Attr == "running-config"
			}
		}
		if s.Action == "write-config" && s.Member == name {
			t.Errorf("plan writes %s's config again, though it holds the wanted values", name)
		}
	}
	if !restarted {
		t.Fatalf("plan after the kill has no restart of %s saying why (running-config): %v", name, actions(p))
	}

	// Apply it (it waits for the killed apply's lock to expire); every
	// process then runs what its file holds, and a further plan is empty.
	if _, _, code := cli(t, applyArgs(t, planFile(t, dir))...); code != 0 {
		t.Fatalf("apply after the kill: exit %d", code)
	}
	for _, m := range st.Members() {
		if f, r := fileQuota(t, m), runningQuota(t, m); f != want || r != want {
			t.Errorf("%s: file quota %s, running quota %s, want both %s", m.Name, f, r, want)
		}
	}
	if p, code := planAsJSON(t, dir); code != 0 {
		t.Errorf("plan after convergence: exit %d, steps %v, want no changes", code, actions(p))
	}
}

// TestPlanRefusesDataDirMove covers issue 13 #6: moving data_dir of
// running members is refused (plan exits 1), naming each member, both
// directories and the procedure; nothing on the hosts changes.
func TestPlanRefusesDataDirMove(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	dir := config(t, st, func(s string) string {
		return regexp.MustCompile(`data_dir\s*=\s*"[^"]*"`).ReplaceAllString(s, `data_dir = "/srv/etcd"`)
	})
	p, code := planAsJSON(t, dir)
	if code != 1 {
		t.Fatalf("plan moving data_dir: exit %d, want 1", code)
	}
	refused := map[string]bool{}
	for _, r := range p.Refusals {
		if r.Summary == "Data dir change not supported" && strings.Contains(r.Detail, "/var/lib/etcd") && strings.Contains(r.Detail, "/srv/etcd") {
			refused[r.Member] = true
		}
	}
	for _, m := range st.Members() {
		if !refused[m.Name] {
			t.Errorf("no data dir refusal naming %s, /var/lib/etcd and /srv/etcd: %+v", m.Name, p.Refusals)
		}
	}
	if p.Applicable {
		t.Error("the plan is applicable")
	}
}
