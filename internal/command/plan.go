package command

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/internal/connect"
	"github.com/etcdform/etcdform/internal/version"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

func init() {
	register("plan", "Observe the live clusters and show (and record) the steps that converge them", runPlan)
}

func runPlan(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParsePlan(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	// Refuse an --out that is not a plan file's place before observing
	// anything (writing it later would replace a device or a link).
	if a.Out != "" {
		if err := planfile.CheckWritable(a.Out); err != nil {
			fmt.Fprintln(env.Stderr, "Error: --out:", err)
			return 1
		}
	}
	// The plan lists every risk a cluster keeps ("Risks kept", with the
	// guide's reason), so their warnings are not printed twice; under
	// --strict they are errors and stop here.
	cfg, ok := loadConfigOpts(env, a.Path, schema.LoadOptions{Vars: a.Vars, VarFiles: a.VarFiles, Strict: a.Strict}, true)
	if !ok {
		return 1
	}
	if cfg, ok = selectClusters(env, cfg, a.Clusters); !ok {
		return 1
	}
	signKey, err := planSigningKey(env)
	if err != nil {
		fmt.Fprintln(env.Stderr, "Error:", err)
		return 1
	}
	p := makePlan(ctx, env, cfg, plan.Options{AllowEven: a.AllowEven, Only: a.Only, Recover: a.Recover, RestoreFrom: a.RestoreFrom, RestoreOverData: a.RestoreOverData}, connect.Options{Timeout: a.Timeout})
	p.Meta.Selection = selection(cfg, a.Clusters)
	if a.Out != "" {
		if err := writePlanFile(a.Out, p, signKey); err != nil {
			fmt.Fprintln(env.Stderr, "Error: writing the plan file:", err)
			return 1
		}
	}
	format := views.PlanFormatHuman
	switch {
	case a.JSON:
		format = views.PlanFormatJSON
	case a.Markdown:
		format = views.PlanFormatMarkdown
	}
	if err := views.NewPlanView(format, color(env)).Plan(env.Stdout, p); err != nil {
		fmt.Fprintln(env.Stderr, "Error:", err)
		return 1
	}
	if a.Out != "" && format == views.PlanFormatHuman {
		if p.HasRefusals() {
			fmt.Fprintf(env.Stdout, "\nSaved the plan to %s for review only: it has refusals (above), so apply rejects it. Resolve them and plan again.\n", a.Out)
		} else {
			apply := "etcdform apply"
			for _, c := range p.Meta.Selection {
				apply += " --cluster " + c
			}
			if a.Only != "" {
				apply += " --only " + a.Only
			}
			fmt.Fprintf(env.Stdout, "\nSaved the plan to %s. Apply exactly these steps with: %s %s\n", a.Out, apply, a.Out)
		}
	}
	switch {
	case p.HasRefusals():
		return 1
	case a.DetailedExitcode && p.HasChanges():
		return 2
	}
	return 0
}

// loadConfig loads and validates a configuration, printing diagnostics to
// stderr. ok is false when it has errors.
func loadConfig(env *Env, path string, vars, varFiles []string) (*schema.Config, bool) {
	return loadConfigOpts(env, path, schema.LoadOptions{Vars: vars, VarFiles: varFiles}, false)
}

// loadConfigOpts is loadConfig with every load option (plan --strict);
// env supplies Getenv. With risksInPlan the safe-default warnings are not
// printed: the plan shows them.
func loadConfigOpts(env *Env, path string, opts schema.LoadOptions, risksInPlan bool) (*schema.Config, bool) {
	opts.Getenv = env.Getenv
	cfg, diags := schema.Load(path, opts)
	if risksInPlan {
		diags = slices.DeleteFunc(diags, func(d *hcl.Diagnostic) bool {
			_, risk := schema.RiskOf(d)
			return risk && d.Severity == hcl.DiagWarning
		})
	}
	// Only the diagnostics: "Success! The configuration is valid." is
	// validate's verdict, not plan's.
	view := &views.DiagnosticsHuman{Err: env.Stderr, Files: cfg.Files, Sensitive: cfg.Sensitive}
	_ = view.Write(diags)
	return cfg, !diags.HasErrors()
}

// selectClusters reduces cfg to the clusters names selects (--cluster),
// printing an error diagnostic that lists the known clusters when one is
// unknown. ok is false then. With no names it returns cfg.
func selectClusters(env *Env, cfg *schema.Config, names []string) (*schema.Config, bool) {
	sel, diags := cfg.Select(names)
	view := &views.DiagnosticsHuman{Err: env.Stderr, Files: cfg.Files, Sensitive: cfg.Sensitive}
	_ = view.Write(diags)
	return sel, !diags.HasErrors()
}

// selection is the plan's record of a --cluster selection: cfg's clusters
// when names selected them, else nil.
func selection(cfg *schema.Config, names []string) []string {
	if len(names) == 0 {
		return nil
	}
	var out []string
	for _, c := range cfg.Clusters {
		out = append(out, c.Name)
	}
	return out
}

// makePlan observes cfg's clusters and plans against them with po
// (AllowEven, Only, Recover).
func makePlan(ctx context.Context, env *Env, cfg *schema.Config, po plan.Options, opts connect.Options) *plan.Plan {
	return planAgainst(env, cfg, observe(ctx, env, cfg, opts), po)
}

// observe observes cfg's clusters (env.Observe in tests).
func observe(ctx context.Context, env *Env, cfg *schema.Config, opts connect.Options) *state.Observed {
	if env.Observe != nil {
		return env.Observe(ctx, cfg)
	}
	return connect.Observe(ctx, cfg, opts)
}

// planAgainst plans cfg against obs with po (AllowEven, Only, Recover,
// Tokens: the initial-cluster-tokens of the clusters it bootstraps, nil
// for the plan's own), adding the backup tool and the plan's metadata.
func planAgainst(env *Env, cfg *schema.Config, obs *state.Observed, po plan.Options) *plan.Plan {
	po.Tool = backupTool(cfg)
	po.Meta = plan.Meta{
		ToolVersion: version.Version,
		Time:        obs.Time,
		GitCommit:   env.CI.gitCommit(cfg.Dir),
		Author:      env.CI.Author,
	}
	return plan.Make(cfg, obs, po)
}

func color(env *Env) bool { return env.StdoutTTY && env.Getenv("NO_COLOR") == "" }
