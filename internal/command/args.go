package command

import (
	"errors"
	"flag"
	"fmt"

	"github.com/etcdform/etcdform/internal/command/arguments"
)

// argError handles a parse result: help goes to stdout with exit 0, a bad
// command line to stderr with usage and exit 1. done is false when err is nil.
func argError(env *Env, fs *flag.FlagSet, err error) (code int, done bool) {
	if err == nil {
		return 0, false
	}
	if errors.Is(err, arguments.ErrHelp) {
		fmt.Fprint(env.Stdout, arguments.Usage(fs))
		return 0, true
	}
	printError(env, "%v", err)
	fmt.Fprintf(env.Stderr, "\n%s", arguments.Usage(fs))
	return 1, true
}

// printError writes an error the one way every command does: "Error: "
// and the message, on stderr.
func printError(env *Env, format string, a ...any) {
	fmt.Fprintf(env.Stderr, "Error: "+format+"\n", a...)
}
