package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
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
	res, err := comment.Publish(ctx, store, md.String(), comment.Options{Marker: views.PlanMarkerLine, Limit: limit})
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: posting the plan to %s: %v\n", where, err)
		return 1
	}
	fmt.Fprintf(env.Stdout, "Posted the plan to %s: %s.\n", where, res)
	return 0
}

// commentStore builds the platform's comment thread from the CI variables.
func commentStore(env *Env, a *arguments.Comment) (store comment.Store, where string, limit int, err error) {
	platform := a.Platform
	if platform == "" {
		switch {
		case env.Getenv("GITLAB_CI") == "true":
			platform = "gitlab"
		case env.Getenv("GITHUB_ACTIONS") == "true":
			platform = "github"
		default:
			return nil, "", 0, errors.New("cannot tell the CI platform: neither GITLAB_CI nor GITHUB_ACTIONS is \"true\"; pass --platform gitlab or --platform github")
		}
	}
	switch platform {
	case "gitlab":
		tokenVar := "GITLAB_TOKEN"
		if env.Getenv("ETCDFORM_GITLAB_TOKEN") != "" {
			tokenVar = "ETCDFORM_GITLAB_TOKEN"
		}
		iid := 0
		if s := env.Getenv("CI_MERGE_REQUEST_IID"); s != "" {
			if iid, err = strconv.Atoi(s); err != nil {
				return nil, "", 0, fmt.Errorf("CI_MERGE_REQUEST_IID %q is not a number", s)
			}
		}
		n, err := gitlab.New(gitlab.Config{
			BaseURL: env.Getenv("CI_API_V4_URL"), Project: env.Getenv("CI_PROJECT_ID"), MergeRequest: iid,
			Token: env.Getenv(tokenVar), TokenVar: tokenVar,
		})
		if err != nil {
			if tokenVar == "GITLAB_TOKEN" && env.Getenv(tokenVar) == "" {
				err = fmt.Errorf("%w (or ETCDFORM_GITLAB_TOKEN)", err)
			}
			return nil, "", 0, err
		}
		return n, fmt.Sprintf("merge request !%d", iid), comment.GitLabLimit, nil
	case "github":
		pr := a.PR
		if pr == 0 {
			pr = githubPR(env)
		}
		c, err := github.New(github.Config{
			BaseURL: env.Getenv("GITHUB_API_URL"), Repository: env.Getenv("GITHUB_REPOSITORY"), PullRequest: pr,
			Token: env.Getenv("GITHUB_TOKEN"), TokenVar: "GITHUB_TOKEN",
		})
		if err != nil {
			return nil, "", 0, err
		}
		return c, fmt.Sprintf("pull request #%d", pr), comment.GitHubLimit, nil
	}
	return nil, "", 0, fmt.Errorf("unknown platform %q", platform)
}

var pullRefRE = regexp.MustCompile(`^refs/pull/(\d+)/(merge|head)$`)

// githubPR is the pull request of a pull_request workflow: GITHUB_REF is
// refs/pull/N/merge there; the event payload (GITHUB_EVENT_PATH) also
// covers pull_request_target. 0 when neither says.
func githubPR(env *Env) int {
	if m := pullRefRE.FindStringSubmatch(env.Getenv("GITHUB_REF")); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if path := env.Getenv("GITHUB_EVENT_PATH"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		var ev struct {
			PullRequest struct {
				Number int `json:"number"`
			} `json:"pull_request"`
		}
		if json.Unmarshal(data, &ev) == nil {
			return ev.PullRequest.Number
		}
	}
	return 0
}
