package views

import (
	"fmt"
	"io"
	"strings"
)

// PolicyResult is what `etcdform policy` found: the policies evaluated
// (the packages under etcdform.* in the policy directory) and each
// message a deny rule gave. `policy --out` writes it as JSON, and
// `comment --policy` reads it back.
type PolicyResult struct {
	Policies   []string          `json:"policies"`
	Violations []PolicyViolation `json:"violations"`
}

// PolicyViolation is one message of one policy's deny rule.
type PolicyViolation struct {
	Policy  string `json:"policy"`
	Message string `json:"message"`
}

// PolicyHuman writes r for a terminal or job log.
func PolicyHuman(w io.Writer, r *PolicyResult) error {
	var b strings.Builder
	if len(r.Violations) == 0 {
		fmt.Fprintf(&b, "Policy check passed: %s, no violation.\n", plural(len(r.Policies), "policy", "policies"))
	} else {
		fmt.Fprintf(&b, "Policy check failed: %s, %s; apply is blocked:\n", plural(len(r.Policies), "policy", "policies"),
			plural(len(r.Violations), "violation", "violations"))
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "  - %s: %s\n", v.Policy, v.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PolicyMarkdown is r as a part of a plan comment.
func PolicyMarkdown(r *PolicyResult) string {
	var b strings.Builder
	if len(r.Violations) == 0 {
		fmt.Fprintf(&b, "**Policy check passed** (%s: %s).\n", plural(len(r.Policies), "policy", "policies"), cell(strings.Join(r.Policies, ", ")))
		return b.String()
	}
	fmt.Fprintf(&b, "> [!CAUTION]\n> **Policy check failed**: %s; the apply job is blocked.\n\n", plural(len(r.Violations), "violation", "violations"))
	b.WriteString("| Policy | Violation |\n|---|---|\n")
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "| %s | %s |\n", cell(v.Policy), cell(v.Message))
	}
	return b.String()
}
