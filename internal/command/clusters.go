package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/schema"
)

func init() {
	register("clusters", "List the clusters a change affects; write the GitLab child pipeline with a plan and apply job per cluster", runClusters)
}

// affected is one cluster of the configuration and why a change affects
// it ("" when it does not).
type affected struct {
	Name     string   `json:"name"`
	Affected bool     `json:"affected"`
	Reason   string   `json:"reason,omitempty"`
	Uses     []string `json:"uses"`
}

func runClusters(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseClusters(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	cfg, ok := loadConfig(env, a.Path, a.Vars, a.VarFiles)
	if !ok {
		return 1
	}
	changed, all, err := changedFiles(ctx, cfg.Dir, a.Changed, a.Since)
	if err != nil {
		printError(env, "%v", err)
		return 1
	}
	list := affectedClusters(cfg, changed, all, a.VarFiles)
	if a.GitLabPipeline != "" {
		g := &views.GitLabPipeline{
			Reasons: map[string]string{}, MergeRequest: env.CI.GitLab.MergeRequestIID,
			AutoApply: env.Getenv("ETCDFORM_AUTO_APPLY") == "true", Include: env.Getenv("ETCDFORM_CHILD_INCLUDE"),
			PolicyDir: a.PolicyDir,
		}
		for _, c := range list {
			if c.Affected {
				g.Clusters = append(g.Clusters, c.Name)
				g.Reasons[c.Name] = c.Reason
			}
		}
		f, err := os.Create(a.GitLabPipeline)
		if err != nil {
			printError(env, "%v", err)
			return 1
		}
		err = g.Write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			printError(env, "writing %s: %v", a.GitLabPipeline, err)
			return 1
		}
	}
	if a.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Clusters []affected `json:"clusters"`
		}{list}); err != nil {
			printError(env, "%v", err)
			return 1
		}
		return 0
	}
	n := 0
	for _, c := range list {
		if c.Affected {
			fmt.Fprintf(env.Stdout, "%s\t%s\n", c.Name, c.Reason)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(env.Stderr, "No cluster uses the changed files.")
	}
	return 0
}

var zeroRev = regexp.MustCompile(`^0+$`)

// changedFiles is the change as absolute paths: the files given, and
// those git says changed between since and HEAD in the repository of
// dir. all is a reason to plan every cluster ("" when the change is
// known): no change was given, or since is no revision git knows (a new
// branch's all-zero CI_COMMIT_BEFORE_SHA, a shallow clone).
func changedFiles(ctx context.Context, dir string, files []string, since string) (changed []string, all string, err error) {
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, "", err
		}
		changed = append(changed, abs)
	}
	switch {
	case since == "" && len(files) == 0:
		return nil, "no change given (--changed, --since): every cluster", nil
	case since == "":
		return changed, "", nil
	case zeroRev.MatchString(since):
		return nil, fmt.Sprintf("no earlier commit to compare with (--since %s): every cluster", since), nil
	}
	top, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return nil, "", fmt.Errorf("--since: %s is not in a git repository: %w", dir, err)
	}
	root := strings.TrimSpace(string(top))
	out, err := exec.CommandContext(ctx, "git", "-C", root, "diff", "--no-renames", "--name-only", since, "HEAD", "--").Output()
	if err != nil {
		return nil, fmt.Sprintf("git cannot compare %s with HEAD (not fetched?): every cluster", since), nil
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			changed = append(changed, filepath.Join(root, l))
		}
	}
	return changed, "", nil
}

// affectedClusters says, for each cluster of cfg, whether the change
// touches a file it uses (schema.Cluster.Uses), or a variables file
// given with --var-file (a variable's value may come from any of them).
func affectedClusters(cfg *schema.Config, changed []string, all string, varFiles []string) []affected {
	var shared []string
	for _, f := range varFiles {
		if abs, err := filepath.Abs(f); err == nil {
			shared = append(shared, abs)
		}
	}
	var out []affected
	for _, c := range cfg.Clusters {
		a := affected{Name: c.Name, Uses: []string{}}
		for _, u := range c.Uses {
			a.Uses = append(a.Uses, relTo(cfg.Dir, u))
		}
		switch {
		case all != "":
			a.Affected, a.Reason = true, all
		default:
			for _, f := range changed {
				if slices.Contains(c.Uses, f) {
					a.Affected, a.Reason = true, relTo(cfg.Dir, f)+" changed"
					break
				}
				if slices.Contains(shared, f) {
					a.Affected, a.Reason = true, "variables file "+relTo(cfg.Dir, f)+" changed"
					break
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// relTo is path relative to dir when it is inside it, else path.
func relTo(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return path
}
