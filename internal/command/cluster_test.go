package command

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// twoClusters writes clusters a (a.hcl) and b (b.hcl), each of 3 members
// whose quota differs from what quotaWorld observes.
func twoClusters(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(quotaConfig(t), "main.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, name := range []string{"a", "b"} {
		s := strings.Replace(string(src), `cluster "lab"`, `cluster "`+name+`"`, 1)
		s = strings.ReplaceAll(s, "10.0.0.", "10.0."+string(rune('1'+i))+".")
		if err := os.WriteFile(filepath.Join(dir, name+".hcl"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// observedNames wraps quotaWorld for every cluster of the configuration
// and records which clusters were observed.
type observedNames struct {
	mu    sync.Mutex
	names []string
}

func (o *observedNames) world(ctx context.Context, cfg *schema.Config) *state.Observed {
	obs := &state.Observed{Clusters: map[string]*state.Cluster{}}
	for _, c := range cfg.Clusters {
		one := *cfg
		one.Clusters = []*schema.Cluster{c}
		oc := quotaWorld(1)(ctx, &one).Clusters[c.Name]
		obs.Clusters[c.Name] = oc
		o.mu.Lock()
		o.names = append(o.names, c.Name)
		o.mu.Unlock()
	}
	return obs
}

func (o *observedNames) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.names
	o.names = nil
	return n
}

// Issue 19 #1: plan --cluster observes and plans only the selection and
// records it; an unknown name is an error listing the known clusters;
// apply of the plan observes only the selection, and apply --cluster
// refuses a plan made for another.
func TestClusterSelection(t *testing.T) {
	dir := twoClusters(t)
	var o observedNames

	code, _, stderr := runWorld(t, o.world, "plan", "--cluster", "c", dir)
	if flat := strings.Join(strings.Fields(stderr), " "); code != 1 || !strings.Contains(flat, "Error: Unknown cluster") ||
		!strings.Contains(flat, `--cluster "c": no cluster of that name`) || !strings.Contains(flat, "The clusters are: a (a.hcl:1), b (b.hcl:1).") {
		t.Errorf("unknown cluster: exit %d, stderr:\n%s", code, stderr)
	}
	if got := o.take(); len(got) > 0 {
		t.Errorf("an unknown --cluster observed %v", got)
	}

	pf := filepath.Join(t.TempDir(), "b.plan")
	code, stdout, stderr := runWorld(t, o.world, "plan", "--cluster", "b", "--out", pf, dir)
	if code != 0 || !strings.Contains(stdout, "--cluster b") || !strings.Contains(stdout, "etcdform apply --cluster b "+pf) {
		t.Fatalf("plan --cluster b: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := o.take(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("plan --cluster b observed %v", got)
	}
	p, err := planfile.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Meta.Selection, []string{"b"}) || !slices.Equal(p.Clusters, []string{"b"}) || len(p.Steps) == 0 {
		t.Fatalf("plan file: selection %v, clusters %v, %d steps", p.Meta.Selection, p.Clusters, len(p.Steps))
	}
	for _, s := range p.Steps {
		if s.Cluster != "b" {
			t.Errorf("a step of cluster %s in a plan of --cluster b", s.Cluster)
		}
	}
	for _, ct := range p.Targets {
		if ct.Name != "b" {
			t.Errorf("the plan says how to reach cluster %s", ct.Name)
		}
	}

	code, _, stderr = runWorld(t, o.world, "apply", "--cluster", "a", "--auto-approve", pf)
	if code != 1 || !strings.Contains(stderr, "--cluster a: this is a plan of --cluster b") {
		t.Errorf("apply --cluster a of b's plan: exit %d, stderr:\n%s", code, stderr)
	}
	if got := o.take(); len(got) > 0 {
		t.Errorf("a refused apply observed %v", got)
	}

	// Without a terminal and --auto-approve, apply stops after checking
	// the plan again: that check observed b alone.
	code, _, stderr = runWorld(t, o.world, "apply", "--cluster", "b", pf)
	if code != 1 || !strings.Contains(stderr, "apply needs confirmation") {
		t.Errorf("apply of b's plan: exit %d, stderr:\n%s", code, stderr)
	}
	if got := o.take(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("apply of a --cluster b plan observed %v", got)
	}

	code, _, _ = runWorld(t, o.world, "plan", "--cluster", "a", "--cluster", "b", "--cluster", "a", dir)
	if got := o.take(); code != 0 || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("plan --cluster a --cluster b --cluster a: exit %d, observed %v", code, got)
	}
}

// Issue 19 #2: clusters lists the clusters a change affects, by the files
// each uses, and writes the child pipeline with their jobs alone.
func TestClustersAffected(t *testing.T) {
	dir := twoClusters(t)
	code, stdout, stderr := runEnv(nil, "clusters", dir)
	if code != 0 || stdout != "a\tno change given (--changed, --since): every cluster\nb\tno change given (--changed, --since): every cluster\n" {
		t.Errorf("no change given: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	child := filepath.Join(t.TempDir(), "child.yml")
	code, stdout, _ = runEnv(nil, "clusters", "--changed", filepath.Join(dir, "b.hcl"), "--gitlab-pipeline", child, dir)
	if code != 0 || stdout != "b\tb.hcl changed\n" {
		t.Errorf("b.hcl changed: exit %d, stdout %q", code, stdout)
	}
	data, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"etcdform-apply: b"`) || strings.Contains(string(data), "etcdform-plan: a") {
		t.Errorf("child pipeline of a change to b:\n%s", data)
	}
	// known_hosts is used by both.
	code, stdout, _ = runEnv(map[string]string{"CI_MERGE_REQUEST_IID": "5"}, "clusters", "--changed", filepath.Join(dir, "known_hosts"), "--gitlab-pipeline", child, dir)
	if code != 0 || stdout != "a\tknown_hosts changed\nb\tknown_hosts changed\n" {
		t.Errorf("known_hosts changed: exit %d, stdout %q", code, stdout)
	}
	if data, _ := os.ReadFile(child); strings.Contains(string(data), "etcdform-apply") || !strings.Contains(string(data), "comment --section a") {
		t.Errorf("merge-request child pipeline:\n%s", data)
	}
	code, stdout, stderr = runEnv(nil, "clusters", "--changed", filepath.Join(dir, "README.md"), dir)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "No cluster uses the changed files") {
		t.Errorf("an unrelated file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runEnv(nil, "clusters", "--since", "0000000000000000000000000000000000000000", dir)
	if code != 0 || !strings.Contains(stdout, "a\tno earlier commit to compare with") {
		t.Errorf("all-zero --since: exit %d, stdout %q", code, stdout)
	}
}
