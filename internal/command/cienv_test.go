package command

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadCI(t *testing.T) {
	tests := map[string]struct {
		env  map[string]string
		want ciEnv
	}{
		"outside CI": {
			env:  map[string]string{"USER": "alice"},
			want: ciEnv{Author: "alice", Approver: "alice", GitLab: gitlabEnv{TokenVar: "GITLAB_TOKEN"}},
		},
		"gitlab merge request": {
			env: map[string]string{
				"GITLAB_CI": "true", "CI_COMMIT_SHA": "abc", "GITLAB_USER_LOGIN": "bob", "USER": "root",
				"CI_API_V4_URL": "https://gl/api/v4", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
				"GITLAB_TOKEN": "t1", "ETCDFORM_GITLAB_TOKEN": "t2",
				"CI_PIPELINE_URL": "https://gl/p/-/pipelines/3", "CI_JOB_URL": "https://gl/p/-/jobs/9",
			},
			want: ciEnv{Platform: "gitlab", Commit: "abc", Author: "bob", Approver: "bob",
				PipelineURL: "https://gl/p/-/pipelines/3", JobURL: "https://gl/p/-/jobs/9", GitLab: gitlabEnv{
					APIURL: "https://gl/api/v4", Project: "42", MergeRequestIID: "7", TokenVar: "ETCDFORM_GITLAB_TOKEN", Token: "t2",
				}},
		},
		"github pull request": {
			env: map[string]string{
				"GITHUB_ACTIONS": "true", "GITHUB_SHA": "def", "GITHUB_ACTOR": "carol",
				"GITHUB_API_URL": "https://api.github.com", "GITHUB_REPOSITORY": "o/r",
				"GITHUB_REF": "refs/pull/12/merge", "GITHUB_TOKEN": "t3", "GITHUB_TRIGGERING_ACTOR": "dave",
				"GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2",
			},
			want: ciEnv{Platform: "github", Commit: "def", Author: "carol", Approver: "dave",
				PipelineURL: "https://github.com/o/r/actions/runs/77", JobURL: "https://github.com/o/r/actions/runs/77/attempts/2", GitLab: gitlabEnv{TokenVar: "GITLAB_TOKEN"},
				GitHub: githubEnv{APIURL: "https://api.github.com", Repository: "o/r", Token: "t3", PullRequest: 12}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := readCI(func(k string) string { return tc.env[k] })
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(ciEnv{})); d != "" {
				t.Errorf("readCI (-want +got):\n%s", d)
			}
		})
	}
}
