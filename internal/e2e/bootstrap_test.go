package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// copyRelease copies the lab's release of its etcd version (tarball and
// SHA256SUMS) into a fresh directory and returns the install source
// template that serves it there, and the copied tarball's path.
func copyRelease(t *testing.T, st *lab.State) (source, tarball string) {
	t.Helper()
	src := strings.ReplaceAll(st.ReleaseSource, "{version}", st.EtcdVersion)
	src = strings.NewReplacer("{os}", "linux", "{arch}", "amd64").Replace(src)
	root := t.TempDir()
	dst := filepath.Join(root, "v"+st.EtcdVersion)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{src, filepath.Join(filepath.Dir(src), "SHA256SUMS")} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(root, "v{version}", "etcd-v{version}-{os}-{arch}.tar.gz"), filepath.Join(dst, filepath.Base(src))
}

// withSource points the install block at source.
func withSource(st *lab.State, source string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, fmt.Sprintf("%q", st.ReleaseSource), fmt.Sprintf("%q", source), 1)
	}
}

// tamper flips one byte in the middle of the file.
func tamper(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// untouched checks that no host got an etcd binary, service or config.
func untouched(t *testing.T, st *lab.State) {
	t.Helper()
	for _, h := range st.Hosts {
		for _, p := range []string{lab.EtcdBinary, lab.EtcdConfigFile, "/etc/service/etcd/run"} {
			local := h.Path(p)
			if p == "/etc/service/etcd/run" {
				local = filepath.Join(h.Root, "service", "etcd", "run")
			}
			if _, err := os.Stat(local); err == nil {
				t.Errorf("host %s has %s: a refused plan touched it", h.Name, p)
			}
		}
		if _, err := os.Stat(filepath.Join(h.Root, "etc-systemd", "etcd.service")); err == nil {
			t.Errorf("host %s has /etc/systemd/system/etcd.service: a refused plan touched it", h.Name)
		}
	}
}

// TestBootstrapE2E (issue 17, acceptance Bootstrap and Bad artifacts):
// `lab up --members 0 --spare 3` gives three hosts with sshd and no etcd,
// and lab.hcl names them as the members of cluster lab. Before the
// bootstrap: a tampered release tarball is refused at plan time, a
// tarball tampered after the plan makes apply refuse the saved plan, and a
// stray data dir on one host refuses the bootstrap, each without touching
// any host. Then the plan installs the binary, the runit service, the data
// dir and each config (initial-cluster-state new, the plan's token), shows
// every file whole, applies to a healthy three-member cluster, and a
// second plan is empty.
func TestBootstrapE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 0, Spare: 3})
	bootstrap(t, st)
}

// TestBootstrapSystemdE2E is TestBootstrapE2E on hosts whose init is
// systemd: the plan installs a unit (Type=notify, LimitNOFILE, User=root
// as the lab's lab.hcl says), and apply starts the members with
// systemctl start --no-block.
func TestBootstrapSystemdE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 0, Spare: 3, Init: lab.InitSystemd})
	bootstrap(t, st)
}

func bootstrap(t *testing.T, st *lab.State) {
	if len(st.Members()) != 0 || len(st.Hosts) != 3 || !st.Bare() {
		t.Fatalf("lab: %d members, %d hosts", len(st.Members()), len(st.Hosts))
	}
	untouched(t, st)

	t.Run("a tampered release is refused at plan time", func(t *testing.T) {
		source, tarball := copyRelease(t, st)
		tamper(t, tarball)
		p, code := planAsJSON(t, config(t, st, withSource(st, source)))
		if code != 1 || len(p.Steps) != 0 || len(p.Refusals) != 1 || p.Refusals[0].Summary != "Install artifact refused" ||
			!strings.Contains(p.Refusals[0].Detail, "sha256 mismatch") {
			t.Fatalf("exit %d, steps %v, refusals %+v: want the artifact refused", code, actions(p), p.Refusals)
		}
		untouched(t, st)
	})

	t.Run("a release tampered after the plan is refused by apply", func(t *testing.T) {
		source, tarball := copyRelease(t, st)
		dir := config(t, st, withSource(st, source))
		planFile := filepath.Join(t.TempDir(), "boot.plan")
		if _, _, code := cli(t, "plan", "--detailed-exitcode", "--out", planFile, dir); code != 2 {
			t.Fatalf("plan exit %d, want 2", code)
		}
		tamper(t, tarball)
		out, errOut, code := cli(t, "apply", "--auto-approve", planFile)
		if code != 1 || !strings.Contains(out+errOut, "Nothing was applied") || !strings.Contains(out+errOut, "sha256 mismatch") {
			t.Fatalf("apply exit %d, want a refusal naming the sha256 mismatch:\n%s%s", code, out, errOut)
		}
		untouched(t, st)
	})

	dir := config(t, st, nil)
	stray := filepath.Join(st.Hosts[1].Path(lab.EtcdDataDir), "member")
	t.Run("a stray data dir refuses the bootstrap", func(t *testing.T) {
		if err := os.MkdirAll(filepath.Join(stray, "snap"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stray, "snap", "db"), bytes.Repeat([]byte{1}, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
		p, code := planAsJSON(t, dir)
		if code != 1 || len(p.Steps) != 0 || len(p.Refusals) != 1 || p.Refusals[0].Summary != "Bootstrap refused" ||
			!strings.Contains(p.Refusals[0].Detail, "the data dir /var/lib/etcd of "+st.Hosts[1].Name) {
			t.Fatalf("exit %d, steps %v, refusals %+v: want the bootstrap refused naming %s's data dir", code, actions(p), p.Refusals, st.Hosts[1].Name)
		}
		untouched(t, st)
	})
	if err := os.RemoveAll(stray); err != nil {
		t.Fatal(err)
	}

	planFile := filepath.Join(t.TempDir(), "boot.plan")
	out, _, code := cli(t, "plan", "--detailed-exitcode", "--out", planFile, dir)
	if code != 2 {
		t.Fatalf("plan exit %d, want 2", code)
	}
	// Every file apply writes is shown whole: the service definition and
	// each config; the binaries by path, source and sha256.
	def := "+exec chpst -o 65536 /usr/local/bin/etcd --config-file /etc/etcd/etcd.conf.yml >>/var/log/etcd/etcd.log 2>&1"
	if st.Init == lab.InitSystemd {
		def = "+Type=notify"
	}
	for _, want := range []string{
		def,
		"+initial-cluster-state: new", "+initial-cluster-token: lab-",
		"upload /usr/local/bin/etcd from ", "upload /usr/local/bin/etcdutl from ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan does not show %q", want)
		}
	}
	p, _ := planAsJSON(t, dir)
	var want []string
	for _, h := range st.Hosts {
		want = append(want, "install-binary "+h.Name, "install-service "+h.Name, "write-config "+h.Name)
	}
	for _, h := range st.Hosts {
		want = append(want, "bootstrap-start "+h.Name)
	}
	if got := actions(p); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("steps %v, want %v", got, want)
	}

	if out, errOut, code := cli(t, "apply", "--auto-approve", planFile); code != 0 {
		t.Fatalf("apply exit %d:\n%s%s", code, out, errOut)
	}
	ml := memberList(t, st)
	if len(ml) != 3 {
		t.Fatalf("%d members, want 3", len(ml))
	}
	for _, m := range ml {
		if m.IsLearner || m.Name == "" {
			t.Errorf("member %+v", m)
		}
	}
	for _, h := range st.Hosts {
		if !lab.Healthy(t.Context(), h.ClientURL()) {
			t.Errorf("%s is not healthy", h.Name)
		}
		fi, err := os.Stat(h.Path(lab.EtcdDataDir))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("data dir of %s: %v %v, want mode 0700", h.Name, fi.Mode(), err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cl := etcdClient(t, st)
	if _, err := cl.Put(ctx, "/bootstrap/check", "ok"); err != nil {
		t.Fatal(err)
	}
	if again, code := planAsJSON(t, dir); code != 0 || len(again.Steps) != 0 || len(again.Refusals) != 0 {
		t.Fatalf("second plan: exit %d, steps %v, refusals %+v; want empty", code, actions(again), again.Refusals)
	}
}

// TestBootstrapTLSE2E: three bare hosts and a TLS cluster: the plan
// uploads each member's certificates and keys from their sources before
// its config and its start (no gate runs before the members start: there
// is no cluster yet), apply gives a healthy cluster over TLS, and a second
// plan is empty.
func TestBootstrapTLSE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 0, Spare: 3, TLS: true})
	src := tlsSources(t, st)
	dir := config(t, st, withSources(src))
	p, code := planAsJSON(t, dir)
	if code != 2 || len(p.Refusals) != 0 {
		t.Fatalf("plan: exit %d, refusals %+v", code, p.Refusals)
	}
	var names []string
	for _, h := range st.Hosts {
		names = append(names, h.Name)
	}
	uploadsBeforeStarts(t, actions(p), names)
	if _, _, code := cli(t, applyArgs(t, dir)...); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	if p, code := planAsJSON(t, dir); code != 0 {
		t.Fatalf("second plan: exit %d, steps %v, refusals %+v", code, actions(p), p.Refusals)
	}
	if n := len(memberList(t, st)); n != 3 {
		t.Errorf("%d members after the bootstrap, want 3", n)
	}
}

// uploadsBeforeStarts fails t unless every member in names has an
// upload-file step before its bootstrap-start among steps ("action
// member", as actions gives them).
func uploadsBeforeStarts(t *testing.T, steps []string, names []string) {
	t.Helper()
	uploaded, started := map[string]int{}, map[string]int{}
	for i, s := range steps {
		action, member, _ := strings.Cut(s, " ")
		switch action {
		case "upload-file":
			uploaded[member] = i
		case "bootstrap-start":
			started[member] = i
		}
	}
	for _, n := range names {
		u, okU := uploaded[n]
		s, okS := started[n]
		if !okU || !okS || u > s {
			t.Errorf("%s: no upload of its TLS files before its start, steps %v", n, steps)
		}
	}
}
