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
	// Only rendered, never applied: no signature is required (merge-request
	// pipelines have no signing key).
	p, err := planfile.ReadFile(a.Plan)
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: %v\n", err)
		return 1
	}
	var md strings.Builder
	if err := (&views.PlanMarkdown{}).Plan(&md, p); err != nil {
		printError(env, "%v", err)
		return 1
	}
	if a.Policy != "" {
		data, err := os.ReadFile(a.Policy)
		var res views.PolicyResult
		if err == nil {
			err = json.Unmarshal(data, &res)
		}
		if err != nil {
			printError(env, "--policy: %v", err)
			return 1
		}
		md.WriteString("\n" + views.PolicyMarkdown(&res))
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
	var res comment.Result
	if a.Section != "" {
		too := fmt.Sprintf("### etcdform plan: cluster %s\n\n**%s**\n\nThe plan is too large for this comment: it is in the job's artifacts (etcdform-%s-plan.md).", a.Section, views.SummaryLine(p), a.Section)
		if u := env.Getenv("CI_JOB_URL"); u != "" {
			too += " Job: " + u
		}
		res, err = comment.PublishSection(ctx, store, a.Section, views.PlanSection(md.String(), a.Section), comment.SectionOptions{
			Marker: views.PlanSectionsMarkerLine, Title: views.PlanSectionsTitle, Limit: limit, TooLarge: too,
		})
	} else {
		res, err = comment.Publish(ctx, store, md.String(), comment.Options{Marker: views.PlanMarkerLine, Limit: limit})
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: posting the plan to %s: %v\n", where, err)
		return 1
	}
	if a.Section != "" {
		where += ", section " + a.Section
	}
	fmt.Fprintf(env.Stdout, "Posted the plan to %s: %s.\n", where, res)
	return 0
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
