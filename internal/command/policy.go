package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/plan/planfile"
)

func init() {
	register("policy", "Check a saved plan against Rego policies with OPA (show --json as input); exit 1 on a violation", runPolicy)
}

func runPolicy(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParsePolicy(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	p, err := planfile.ReadFile(a.Plan)
	if err != nil {
		printError(env, "%v", err)
		return 1
	}
	var doc bytes.Buffer
	if err := (&views.PlanJSON{}).Plan(&doc, p); err != nil {
		printError(env, "%v", err)
		return 1
	}
	labels := append([]string(nil), a.Labels...)
	for _, l := range strings.Split(env.Getenv("CI_MERGE_REQUEST_LABELS"), ",") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	res, err := evalPolicies(ctx, a.OPA, a.PolicyDir, doc.Bytes(), labels)
	if err != nil {
		printError(env, "%v", err)
		return 1
	}
	if a.Out != "" {
		data, err := json.MarshalIndent(res, "", "  ")
		if err == nil {
			err = os.WriteFile(a.Out, append(data, '\n'), 0o644)
		}
		if err != nil {
			printError(env, "writing %s: %v", a.Out, err)
			return 1
		}
	}
	if err := views.PolicyHuman(env.Stdout, res); err != nil {
		return 1
	}
	if len(res.Violations) > 0 {
		return 1
	}
	return 0
}

// evalPolicies runs `opa eval` on the policies of dir with the plan's
// JSON document (plus input.ci.labels) as input, and reads every
// package under data.etcdform and the messages of its deny rule.
func evalPolicies(ctx context.Context, opa, dir string, planJSON []byte, labels []string) (*views.PolicyResult, error) {
	var input map[string]any
	if err := json.Unmarshal(planJSON, &input); err != nil {
		return nil, err
	}
	if labels == nil {
		labels = []string{}
	}
	input["ci"] = map[string]any{"labels": labels}
	data, err := json.Marshal(input)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "etcdform-policy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	in := filepath.Join(tmp, "input.json")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, opa, "eval", "--format", "json", "--data", dir, "--input", in, "data.etcdform")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("opa eval of the policies in %s failed: %s%s", dir, strings.TrimSpace(stderr.String()), strings.TrimSpace(stdout.String()))
		}
		return nil, fmt.Errorf("running %s (install it with go install github.com/open-policy-agent/opa@v1.22.3, or pass --opa): %w", opa, err)
	}
	var out struct {
		Result []struct {
			Expressions []struct {
				Value map[string]struct {
					Deny []any `json:"deny"`
				} `json:"value"`
			} `json:"expressions"`
		} `json:"result"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("reading opa's answer: %w", err)
	}
	if len(out.Result) == 0 || len(out.Result[0].Expressions) == 0 || len(out.Result[0].Expressions[0].Value) == 0 {
		return nil, fmt.Errorf("no policy in %s: policies are Rego packages under etcdform (package etcdform.NAME) with a deny rule", dir)
	}
	res := &views.PolicyResult{Policies: []string{}, Violations: []views.PolicyViolation{}}
	pkgs := out.Result[0].Expressions[0].Value
	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		res.Policies = append(res.Policies, name)
		var msgs []string
		for _, m := range pkgs[name].Deny {
			s, ok := m.(string)
			if !ok {
				b, _ := json.Marshal(m)
				s = string(b)
			}
			msgs = append(msgs, s)
		}
		slices.Sort(msgs)
		for _, m := range msgs {
			res.Violations = append(res.Violations, views.PolicyViolation{Policy: name, Message: m})
		}
	}
	return res, nil
}
