package command

import (
	"context"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/schema"
)

func init() {
	register("validate", "Check the configuration for errors without contacting any host", runValidate)
}

// runValidate loads and validates a configuration: exit 0 when valid
// (warnings allowed), 1 otherwise. With --strict the safe-default warnings
// are errors (schema.LoadOptions.Strict).
func runValidate(_ context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseValidate(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	cfg, diags := schema.Load(a.Path, schema.LoadOptions{Vars: a.Vars, VarFiles: a.VarFiles, Getenv: env.Getenv, Strict: a.Strict})
	var view views.Diagnostics
	if a.JSON {
		view = &views.DiagnosticsJSON{Out: env.Stdout, Sensitive: cfg.Sensitive, Strict: a.Strict}
	} else {
		view = &views.DiagnosticsHuman{Out: env.Stdout, Err: env.Stderr, Files: cfg.Files, Sensitive: cfg.Sensitive,
			Color: env.StdoutTTY && env.Getenv("NO_COLOR") == "", Strict: a.Strict}
	}
	if err := view.Validate(diags); err != nil || diags.HasErrors() {
		return 1
	}
	return 0
}
