package command

import (
	"context"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/plan/planfile"
)

func init() { register("show", "Render a saved plan file", runShow) }

func runShow(_ context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseShow(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	p, err := planfile.ReadFile(a.File)
	if err != nil {
		printError(env, "%v", err)
		return 1
	}
	format := views.PlanFormatHuman
	switch {
	case a.JSON:
		format = views.PlanFormatJSON
	case a.Markdown:
		format = views.PlanFormatMarkdown
	}
	color := env.StdoutTTY && env.Getenv("NO_COLOR") == ""
	if err := views.NewPlanView(format, color).Plan(env.Stdout, p); err != nil {
		printError(env, "%v", err)
		return 1
	}
	return 0
}
