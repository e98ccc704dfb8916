package apply

import (
	"os/exec"
	"strings"
	"testing"
)

// TestApplyDoesNotDependOnSchema: apply carries out a plan from the plan
// alone (issue 14 #3), so neither it nor anything it imports reaches the
// configuration's model: it takes the plan's types from plan/model, not
// from the planner.
func TestApplyDoesNotDependOnSchema(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		switch p {
		case "github.com/etcdform/etcdform/schema", "github.com/etcdform/etcdform/plan":
			t.Errorf("apply depends on %s; the executor must take everything from the plan's model", p)
		}
	}
}
