package command

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// ciEnv is everything etcdform reads of a CI job's environment: the
// platform, the commit and author a plan and an audit record carry, and
// where `comment` posts. RunEnv reads it once, into Env.CI; nothing else
// reads CI variables.
type ciEnv struct {
	// Platform is "gitlab" (GITLAB_CI=true), "github" (GITHUB_ACTIONS=true)
	// or "" outside CI.
	Platform string
	// Commit is CI_COMMIT_SHA or GITHUB_SHA; "" outside CI.
	Commit string
	// Author is GITLAB_USER_LOGIN, GITHUB_ACTOR or USER.
	Author string
	// Approver is who started this job: in GitLab the user who pressed a
	// manual job (GITLAB_USER_LOGIN is that user in a manual job), in
	// GitHub Actions GITHUB_TRIGGERING_ACTOR (who re-ran or approved the
	// run) or GITHUB_ACTOR; USER outside CI. An apply records it.
	Approver string
	// PipelineURL and JobURL locate the CI run: CI_PIPELINE_URL and
	// CI_JOB_URL, or GitHub's run URL (and its attempt).
	PipelineURL, JobURL string
	GitLab              gitlabEnv
	GitHub              githubEnv
}

// gitlabEnv is a GitLab merge-request pipeline's view of its API.
type gitlabEnv struct {
	APIURL  string // CI_API_V4_URL
	Project string // CI_PROJECT_ID
	// MergeRequestIID is CI_MERGE_REQUEST_IID as set (checked by its user),
	// or in a child pipeline ETCDFORM_MERGE_REQUEST_IID, which `etcdform
	// clusters --gitlab-pipeline` writes into it.
	MergeRequestIID string
	// TokenVar names the variable the token came from: ETCDFORM_GITLAB_TOKEN
	// when set, else GITLAB_TOKEN.
	TokenVar string
	Token    string
}

// githubEnv is a GitHub Actions workflow's view of its API.
type githubEnv struct {
	APIURL     string // GITHUB_API_URL
	Repository string // GITHUB_REPOSITORY
	Token      string // GITHUB_TOKEN
	// PullRequest is the pull request of a pull_request workflow: GITHUB_REF
	// is refs/pull/N/merge there; the event payload (GITHUB_EVENT_PATH)
	// also covers pull_request_target. 0 when neither says.
	PullRequest int
}

// readCI reads the CI environment through getenv.
func readCI(getenv func(string) string) ciEnv {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	ci := ciEnv{
		Commit: first("CI_COMMIT_SHA", "GITHUB_SHA"),
		Author: first("GITLAB_USER_LOGIN", "GITHUB_ACTOR", "USER"),
		GitLab: gitlabEnv{
			APIURL: getenv("CI_API_V4_URL"), Project: getenv("CI_PROJECT_ID"),
			MergeRequestIID: first("CI_MERGE_REQUEST_IID", "ETCDFORM_MERGE_REQUEST_IID"), TokenVar: "GITLAB_TOKEN",
		},
		GitHub: githubEnv{
			APIURL: getenv("GITHUB_API_URL"), Repository: getenv("GITHUB_REPOSITORY"),
			Token:       getenv("GITHUB_TOKEN"),
			PullRequest: githubPR(getenv("GITHUB_REF"), getenv("GITHUB_EVENT_PATH")),
		},
	}
	switch {
	case getenv("GITLAB_CI") == "true":
		ci.Platform = "gitlab"
		ci.Approver = first("GITLAB_USER_LOGIN", "USER")
		ci.PipelineURL, ci.JobURL = getenv("CI_PIPELINE_URL"), getenv("CI_JOB_URL")
	case getenv("GITHUB_ACTIONS") == "true":
		ci.Platform = "github"
		ci.Approver = first("GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR")
		if srv, repo, run := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); srv != "" && repo != "" && run != "" {
			ci.PipelineURL = srv + "/" + repo + "/actions/runs/" + run
			ci.JobURL = ci.PipelineURL
			if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" {
				ci.JobURL += "/attempts/" + a
			}
		}
	default:
		ci.Approver = getenv("USER")
	}
	if getenv("ETCDFORM_GITLAB_TOKEN") != "" {
		ci.GitLab.TokenVar = "ETCDFORM_GITLAB_TOKEN"
	}
	ci.GitLab.Token = getenv(ci.GitLab.TokenVar)
	return ci
}

// gitCommit is the commit the configuration was planned at: CI's variable,
// else the repository's HEAD.
func (ci ciEnv) gitCommit(dir string) string {
	if ci.Commit != "" {
		return ci.Commit
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

var pullRefRE = regexp.MustCompile(`^refs/pull/(\d+)/(merge|head)$`)

// githubPR is the pull request named by GITHUB_REF or, failing that, by the
// event payload at GITHUB_EVENT_PATH; 0 when neither says.
func githubPR(ref, eventPath string) int {
	if m := pullRefRE.FindStringSubmatch(ref); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if eventPath != "" {
		data, err := os.ReadFile(eventPath)
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
