package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/providers/comment"
	"github.com/etcdform/etcdform/providers/github"
	"github.com/etcdform/etcdform/providers/gitlab"
)

func init() {
	register("comment", "Post a saved plan to the merge or pull request as one comment, updated in place", runComment)
}

func runComment(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseComment(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	var md string
	var secs []comment.Section
	var names []string
	if len(a.Sections) == 0 {
		if md, _, err = commentMarkdown(a.Plan, a.Policy); err != nil {
			printError(env, "%v", err)
			return 1
		}
	}
	failed := false
	for _, sec := range a.Sections {
		md, p, err := commentMarkdown(sec.Plan, sec.Policy)
		if err != nil {
			printError(env, "section %s: %v", sec.Name, err)
			if len(a.Sections) == 1 {
				return 1
			}
			// The pipeline's last job: the other sections are still
			// posted; this one keeps what its own job wrote.
			fmt.Fprintf(env.Stderr, "Section %s is not posted again: the comment keeps what its own job wrote.\n", sec.Name)
			failed = true
			continue
		}
		too := fmt.Sprintf("### etcdform plan: cluster %s\n\n**%s**\n\nThe plan is too large for this comment: it is in the job's artifacts (etcdform-%s-plan.md).", sec.Name, views.SummaryLine(p), sec.Name)
		if u := env.Getenv("CI_JOB_URL"); u != "" {
			too += " Job: " + u
		}
		secs = append(secs, comment.Section{Name: sec.Name, Body: views.PlanSection(md, sec.Name), TooLarge: too})
		names = append(names, sec.Name)
	}
	if failed && len(secs) == 0 {
		return 1
	}
	store, where, limit, err := commentStore(env, a)
	if err != nil {
		printError(env, "%v", err)
		return 1
	}
	if a.MaxSize > 0 {
		limit = a.MaxSize
	}
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	what := "the plan"
	var res comment.Result
	if len(secs) == 0 {
		res, err = comment.Publish(ctx, store, md, comment.Options{Marker: views.PlanMarkerLine, Limit: limit})
	} else {
		// One write of every section given: the pipeline's last job
		// restores any that two per-cluster jobs lost writing at once.
		res, err = comment.PublishSections(ctx, store, secs, comment.SectionOptions{
			Marker: views.PlanSectionsMarkerLine, Title: views.PlanSectionsTitle, Limit: limit,
		})
		if len(names) > 1 {
			what, where = "the plans", where+", sections "+strings.Join(names, ", ")
		} else {
			where += ", section " + names[0]
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: posting %s to %s: %v\n", what, where, err)
		return 1
	}
	fmt.Fprintf(env.Stdout, "Posted %s to %s: %s.\n", what, where, res)
	if failed {
		return 1
	}
	return 0
}

// commentMarkdown is a saved plan as Markdown, with the policy check
// result under it when policy is set. Only rendered, never applied: no
// signature is required (merge-request pipelines have no signing key).
func commentMarkdown(planFile, policy string) (string, *plan.Plan, error) {
	p, err := planfile.ReadFile(planFile)
	if err != nil {
		return "", nil, err
	}
	var md strings.Builder
	if err := (&views.PlanMarkdown{}).Plan(&md, p); err != nil {
		return "", nil, err
	}
	if policy != "" {
		data, err := os.ReadFile(policy)
		var res views.PolicyResult
		if err == nil {
			err = json.Unmarshal(data, &res)
		}
		if err != nil {
			return "", nil, fmt.Errorf("--policy: %v", err)
		}
		md.WriteString("\n" + views.PolicyMarkdown(&res))
	}
	return md.String(), p, nil
}

// commentStore builds the platform's comment thread from the CI variables.
func commentStore(env *Env, a *arguments.Comment) (store comment.Store, where string, limit int, err error) {
	platform := a.Platform
	if platform == "" {
		platform = env.CI.Platform
	}
	switch platform {
	case "gitlab":
		gl := env.CI.GitLab
		iid := 0
		if s := gl.MergeRequestIID; s != "" {
			if iid, err = strconv.Atoi(s); err != nil {
				return nil, "", 0, fmt.Errorf("CI_MERGE_REQUEST_IID %q is not a number", s)
			}
		}
		n, err := gitlab.New(gitlab.Config{
			BaseURL: gl.APIURL, Project: gl.Project, MergeRequest: iid,
			Token: gl.Token, TokenVar: gl.TokenVar,
		})
		if err != nil {
			if gl.TokenVar == "GITLAB_TOKEN" && gl.Token == "" {
				err = fmt.Errorf("%w (or ETCDFORM_GITLAB_TOKEN)", err)
			}
			return nil, "", 0, err
		}
		return n, fmt.Sprintf("merge request !%d", iid), comment.GitLabLimit, nil
	case "github":
		gh := env.CI.GitHub
		pr := a.PR
		if pr == 0 {
			pr = gh.PullRequest
		}
		c, err := github.New(github.Config{
			BaseURL: gh.APIURL, Repository: gh.Repository, PullRequest: pr,
			Token: gh.Token, TokenVar: "GITHUB_TOKEN",
		})
		if err != nil {
			return nil, "", 0, err
		}
		return c, fmt.Sprintf("pull request #%d", pr), comment.GitHubLimit, nil
	case "":
		return nil, "", 0, errors.New("cannot tell the CI platform: neither GITLAB_CI nor GITHUB_ACTIONS is \"true\"; pass --platform gitlab or --platform github")
	}
	return nil, "", 0, fmt.Errorf("unknown platform %q", platform)
}
