package views

import (
	"bytes"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestGitLabPipeline: the child pipeline of a default-branch change to
// two clusters (a plan and a manual apply job each, in environment
// $ETCDFORM_ENVIRONMENT/NAME and its own resource group), of a merge
// request (plan jobs that post their section, no apply, and a last job
// that posts every section once more, with the policy results), and of a change
// that touches no cluster (one job that says so).
func TestGitLabPipeline(t *testing.T) {
	tests := map[string]struct {
		g    GitLabPipeline
		want []string
		not  []string
	}{
		"gitlab-pipeline-apply.yml": {
			g:    GitLabPipeline{Clusters: []string{"eu-1", "us-1"}, Reasons: map[string]string{"eu-1": "eu-1.hcl changed"}},
			want: []string{`"etcdform-apply: us-1"`, `name: "$ETCDFORM_ENVIRONMENT/eu-1"`, `resource_group: "etcdform-$ETCDFORM_ENVIRONMENT/us-1"`, "when: manual", "apply --cluster eu-1 "},
			not:  []string{"comment --section", "ETCDFORM_MERGE_REQUEST_IID", CommentJob, "interruptible"},
		},
		"gitlab-pipeline-mr.yml": {
			g: GitLabPipeline{Clusters: []string{"eu-1", "us-1"}, MergeRequest: "17", Include: "ci/runner.yml", PolicyDir: "policies"},
			want: []string{`ETCDFORM_MERGE_REQUEST_IID: "17"`, "comment --section eu-1 --plan etcdform-eu-1.plan", `local: "ci/runner.yml"`,
				"\"etcdform-comment\":\n  extends: .etcdform\n  interruptible: true\n  stage: comment\n  when: always\n",
				`if [ -f etcdform-us-1.plan ]; then set -- "$@" --section us-1 --plan etcdform-us-1.plan; if [ -f etcdform-us-1-policy.json ]; then set -- "$@" --policy etcdform-us-1-policy.json; fi; fi`,
				`$ETCDFORM_BIN comment "$@"`, "\"etcdform-plan: us-1\":\n  extends: .etcdform\n  interruptible: true\n",
				"\"etcdform-policy: us-1\":\n  extends: .etcdform\n  interruptible: true\n", "      - etcdform-us-1-plan.md\n"},
			not: []string{"etcdform-apply", "resource_group"},
		},
		"gitlab-pipeline-none.yml": {
			g:    GitLabPipeline{AutoApply: true},
			want: []string{"etcdform-no-change:"},
			not:  []string{"etcdform-plan", CommentJob},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.g.Write(&buf); err != nil {
				t.Fatal(err)
			}
			golden(t, name, buf.Bytes())
			// Every script line is a YAML string (a ": " in one makes
			// it a mapping, which GitLab refuses).
			var jobs map[string]any
			if err := yaml.Unmarshal(buf.Bytes(), &jobs); err != nil {
				t.Fatal(err)
			}
			for job, v := range jobs {
				m, _ := v.(map[string]any)
				script, _ := m["script"].([]any)
				for _, l := range script {
					if _, ok := l.(string); !ok {
						t.Errorf("job %s: script line %v is not a string", job, l)
					}
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(buf.String(), n) {
					t.Errorf("unexpected %q", n)
				}
			}
		})
	}
}
