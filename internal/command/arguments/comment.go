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
	// Section, when set, posts the plan as this section (a cluster's
	// name) of one sectioned comment that per-cluster jobs share.
	Section string
	// Policy is an `etcdform policy --out` result shown under the plan.
	Policy string
}

// ParseComment parses `etcdform comment [--plan FILE] [--platform
// gitlab|github] [--pr N] [--max-size BYTES] [--timeout D]`.
func ParseComment(args []string) (*Comment, *flag.FlagSet, error) {
	c := &Comment{}
	fs := newFlagSet("comment", "comment [flags]", "")
	fs.StringVar(&c.Plan, "plan", "etcdform.plan", "the saved plan `FILE` to post (written by etcdform plan --out)")
	fs.StringVar(&c.Platform, "platform", "", "gitlab or github (default: detected from GITLAB_CI / GITHUB_ACTIONS)")
	fs.IntVar(&c.PR, "pr", 0, "GitHub pull request number (default: from GITHUB_REF refs/pull/N/merge or the event)")
	fs.IntVar(&c.MaxSize, "max-size", 0, "largest comment in bytes; longer plans are split (default: GitLab 1000000, GitHub 65536)")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Minute, "bound on posting, retries included")
	fs.StringVar(&c.Policy, "policy", "", "show the policy check result `FILE` (etcdform policy --out) under the plan")
	fs.StringVar(&c.Section, "section", "", "post the plan as section `NAME` (a cluster) of one comment shared by per-cluster jobs, leaving the other sections as they are")
	if err := parse(fs, args); err != nil {
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
