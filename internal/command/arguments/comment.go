package arguments

import (
	"flag"
	"fmt"
	"time"
)

// Comment holds `etcdform comment` arguments.
type Comment struct {
	// Plan is the saved plan to post.
	Plan string
	// Platform is "gitlab", "github", or "" to detect it from the CI
	// environment.
	Platform string
	// PR is the GitHub pull request number; 0 means from GITHUB_REF or
	// the event.
	PR int
	// MaxSize overrides the platform's comment size limit, in bytes.
	MaxSize int
	Timeout time.Duration
	// Policy is an `etcdform policy --out` result shown under the plan.
	Policy string
	// Sections, when given, post each plan as a section (a cluster's
	// name) of one sectioned comment that per-cluster jobs share, in one
	// write; Plan and Policy are then unused.
	Sections []CommentSection
}

// CommentSection is one --section with the --plan and --policy given
// after it.
type CommentSection struct {
	Name, Plan, Policy string
}

// commentFlag records a --section, --plan or --policy in command-line
// order, so that a --plan belongs to the --section before it.
type commentFlag struct {
	name   string
	events *[][2]string
}

func (f commentFlag) String() string { return "" }
func (f commentFlag) Set(v string) error {
	*f.events = append(*f.events, [2]string{f.name, v})
	return nil
}

// ParseComment parses `etcdform comment [--plan FILE] [--policy FILE]
// [--platform gitlab|github] [--pr N] [--max-size BYTES] [--timeout D]`,
// or, instead of --plan and --policy, one or more `--section NAME --plan
// FILE [--policy FILE]`.
func ParseComment(args []string) (*Comment, *flag.FlagSet, error) {
	c := &Comment{}
	fs := newFlagSet("comment", "comment [flags]", "")
	var events [][2]string
	fs.Var(commentFlag{"plan", &events}, "plan", "the saved plan `FILE` to post (written by etcdform plan --out; default etcdform.plan); after --section NAME, that section's plan")
	fs.StringVar(&c.Platform, "platform", "", "gitlab or github (default: detected from GITLAB_CI / GITHUB_ACTIONS)")
	fs.IntVar(&c.PR, "pr", 0, "GitHub pull request number (default: from GITHUB_REF refs/pull/N/merge or the event)")
	fs.IntVar(&c.MaxSize, "max-size", 0, "largest comment in bytes; longer plans are split (default: GitLab 1000000, GitHub 65536)")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Minute, "bound on posting, retries included")
	fs.Var(commentFlag{"policy", &events}, "policy", "show the policy check result `FILE` (etcdform policy --out) under the plan (after --section NAME, that section's)")
	fs.Var(commentFlag{"section", &events}, "section", "post the plan as section `NAME` (a cluster) of one comment shared by per-cluster jobs, leaving the other sections as they are; repeatable: several sections are written at once, each followed by its own --plan (required) and --policy")
	if err := parse(fs, args); err != nil {
		return c, fs, err
	}
	if err := c.group(events); err != nil {
		return c, fs, err
	}
	if fs.NArg() > 0 {
		return c, fs, fmt.Errorf("comment: unexpected argument %q (the plan file goes in --plan)", fs.Arg(0))
	}
	switch c.Platform {
	case "", "gitlab", "github":
	default:
		return c, fs, fmt.Errorf("comment: --platform must be gitlab or github, not %q", c.Platform)
	}
	if c.PR < 0 || c.MaxSize < 0 || c.Timeout <= 0 {
		return c, fs, fmt.Errorf("comment: --pr and --max-size cannot be negative, and --timeout must be positive")
	}
	return c, fs, nil
}

// group sorts the --section, --plan and --policy flags into c: without a
// --section, one plan; with one, every --plan and --policy is that
// section's wherever it stands (as before sections were repeatable); with
// several, each belongs to the --section before it.
func (c *Comment) group(events [][2]string) error {
	var sections []CommentSection
	for _, e := range events {
		if e[0] == "section" {
			sections = append(sections, CommentSection{Name: e[1]})
		}
	}
	cur := -1
	if len(sections) == 1 {
		cur = 0
	}
	var plan, policy *string
	if len(sections) == 0 {
		plan, policy = &c.Plan, &c.Policy
	}
	n := -1
	for _, e := range events {
		if e[0] == "section" {
			if n++; len(sections) > 1 {
				cur = n
			}
			continue
		}
		if len(sections) > 0 {
			if cur < 0 {
				return fmt.Errorf("comment: --%s %s comes before any --section: with several sections, each --plan and --policy follows its --section", e[0], e[1])
			}
			plan, policy = &sections[cur].Plan, &sections[cur].Policy
		}
		dst := plan
		if e[0] == "policy" {
			dst = policy
		}
		if *dst != "" {
			where := ""
			if len(sections) > 0 {
				where = " for section " + sections[cur].Name
			}
			return fmt.Errorf("comment: --%s is given twice%s (%s and %s)", e[0], where, *dst, e[1])
		}
		*dst = e[1]
	}
	seen := map[string]bool{}
	for _, s := range sections {
		if seen[s.Name] {
			return fmt.Errorf("comment: --section %s is given twice", s.Name)
		}
		seen[s.Name] = true
	}
	for i, s := range sections {
		if s.Plan == "" {
			if len(sections) > 1 {
				return fmt.Errorf("comment: --section %s has no --plan after it", s.Name)
			}
			sections[i].Plan = "etcdform.plan"
		}
	}
	if len(sections) == 0 && c.Plan == "" {
		c.Plan = "etcdform.plan"
	}
	c.Sections = sections
	return nil
}
