package arguments

import (
	"flag"
	"fmt"
	"time"
)

// Policy holds `etcdform policy` arguments.
type Policy struct {
	// OPA is the opa command (installed on its own: docs/fleet.md).
	OPA       string
	PolicyDir string
	// Labels are merge-request labels the policies see (input.ci.labels),
	// beside CI_MERGE_REQUEST_LABELS.
	Labels  []string
	Out     string
	Timeout time.Duration
	Plan    string
}

// ParsePolicy parses `etcdform policy [--opa BIN] --policy-dir DIR
// [--label L]... [--out FILE] [--timeout D] PLANFILE`.
func ParsePolicy(args []string) (*Policy, *flag.FlagSet, error) {
	p := &Policy{}
	fs := newFlagSet("policy", "policy [flags] PLANFILE", "Evaluate the Rego policies of DIR (packages etcdform.*, rules deny) with OPA against the plan's JSON (show --json); exit 1 on a violation.")
	fs.StringVar(&p.OPA, "opa", "opa", "the OPA `COMMAND` (go install github.com/open-policy-agent/opa@v1.22.3)")
	fs.StringVar(&p.PolicyDir, "policy-dir", "", "the `DIR` of .rego policies (required)")
	fs.Var((*stringList)(&p.Labels), "label", "a merge-request `LABEL` the policies see in input.ci.labels (repeatable; CI_MERGE_REQUEST_LABELS is added)")
	fs.StringVar(&p.Out, "out", "", "write the result as JSON to `FILE` (for etcdform comment --policy)")
	fs.DurationVar(&p.Timeout, "timeout", 2*time.Minute, "bound on the evaluation")
	if err := parse(fs, args); err != nil {
		return p, fs, err
	}
	if p.PolicyDir == "" {
		return p, fs, fmt.Errorf("policy: --policy-dir is required")
	}
	if err := positive(fs, "timeout"); err != nil {
		return p, fs, err
	}
	if fs.NArg() != 1 {
		return p, fs, fmt.Errorf("policy: expected one PLANFILE, got %d arguments", fs.NArg())
	}
	p.Plan = fs.Arg(0)
	return p, fs, nil
}
