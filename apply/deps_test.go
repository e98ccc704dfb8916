package apply

import (
	"os/exec"
	"strings"
	"testing"
)

// TestApplyDoesNotImportSchema: apply carries out a plan from the plan
// alone (issue 14 #3), so it does not import the configuration's model.
// (It still reaches schema through plan, whose planner, plan.Make, reads
// the configuration.)
func TestApplyDoesNotImportSchema(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	out, err := exec.Command(goTool, "list", "-f", `{{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/etcdform/etcdform/schema" {
			t.Fatalf("apply imports %s; the executor must take everything from the plan", p)
		}
	}
}
