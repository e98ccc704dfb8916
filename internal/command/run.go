package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Env is what a command may use of the outside world. Tests build their own.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	// Getenv reads the environment (variables, CI metadata, NO_COLOR).
	Getenv func(string) string
	// CI is the CI job's environment, read by RunEnv through Getenv.
	CI ciEnv
	// StdoutTTY and StdinTTY say whether they are terminals (colour,
	// live progress, interactive confirmation).
	StdoutTTY bool
	StdinTTY  bool
	// Observe replaces live observation in tests of the commands' logic;
	// nil means the real providers.
	Observe func(ctx context.Context, cfg *schema.Config) *state.Observed
	// AuditRecords replaces reading a cluster's audit records in tests;
	// nil means the cluster's etcd.
	AuditRecords func(ctx context.Context, cluster string) ([]apply.AuditKV, error)
}

type commandFunc func(ctx context.Context, env *Env, args []string) int

type commandInfo struct {
	run      commandFunc
	synopsis string
}

// commands is filled by each command's file in init, so adding a command
// touches only its own file.
var commands = map[string]commandInfo{}

func register(name, synopsis string, run commandFunc) {
	if _, dup := commands[name]; dup {
		panic("command registered twice: " + name)
	}
	commands[name] = commandInfo{run: run, synopsis: synopsis}
}

// Run runs etcdform with args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &Env{
		Stdout:    stdout,
		Stderr:    stderr,
		Stdin:     os.Stdin,
		Getenv:    os.Getenv,
		StdoutTTY: isTTY(stdout),
		StdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
	}
	defer startingHeap(os.Getenv, startingHeapGoal)()
	defer startProfile(os.Getenv, stderr)()
	return RunEnv(ctx, env, args)
}

// RunEnv is Run with an explicit environment.
func RunEnv(ctx context.Context, env *Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	env.CI = readCI(env.Getenv)
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if len(args) == 0 {
		printError(env, "missing command\n")
		usage(env.Stderr)
		return 1
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(env.Stdout)
		return 0
	case "-v", "-version", "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		printError(env, "unknown command %q\n", name)
		usage(env.Stderr)
		return 1
	}
	return c.run(ctx, env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: etcdform <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'etcdform <command> -h' for a command's flags.")
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
