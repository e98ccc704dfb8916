package arguments

import (
	"flag"
	"fmt"
)

// Clusters holds `etcdform clusters` arguments.
type Clusters struct {
	// Changed are changed files (paths as given, relative to the working
	// directory); Since is a git revision whose diff to HEAD adds more.
	// With neither, every cluster is affected.
	Changed []string
	Since   string
	JSON    bool
	// GitLabPipeline, when set, is where the GitLab child pipeline of
	// the affected clusters is written.
	GitLabPipeline string
	// PolicyDir, when set, adds a policy job per cluster to the child
	// pipeline, which its apply job needs.
	PolicyDir string
	Vars      []string
	VarFiles  []string
	Path      string
}

// ParseClusters parses `etcdform clusters [--changed FILE]... [--since
// REV] [--json] [--gitlab-pipeline FILE] [--policy-dir DIR] [--var
// k=v]... [--var-file F]... [PATH]`.
func ParseClusters(args []string) (*Clusters, *flag.FlagSet, error) {
	c := &Clusters{Path: "."}
	fs := newFlagSet("clusters", "clusters [flags] [PATH]", "List the clusters a change affects (all of them without --changed or --since), and write the GitLab child pipeline that plans and applies each.")
	fs.Var((*stringList)(&c.Changed), "changed", "a changed `FILE` (repeatable): the clusters that use it are affected")
	fs.StringVar(&c.Since, "since", "", "git `REV`: the files changed between it and HEAD are the change (an unknown or all-zero REV affects every cluster)")
	fs.BoolVar(&c.JSON, "json", false, "print the clusters as JSON")
	fs.StringVar(&c.GitLabPipeline, "gitlab-pipeline", "", "write the GitLab child pipeline of the affected clusters to `FILE` (ci/etcdform.gitlab-ci.yml)")
	fs.StringVar(&c.PolicyDir, "policy-dir", "", "with --gitlab-pipeline: a policy job per cluster checks its plan against the Rego policies in `DIR` (etcdform policy), and its apply job waits for it")
	varFlags(fs, &c.Vars, &c.VarFiles)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c, fs, err
	}
	switch len(pos) {
	case 0:
	case 1:
		c.Path = pos[0]
	default:
		return c, fs, fmt.Errorf("clusters: expected at most one PATH, got %d arguments", len(pos))
	}
	return c, fs, nil
}
