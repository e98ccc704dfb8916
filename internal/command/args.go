package command

import (
	"errors"
	"flag"
	"fmt"

	"github.com/etcdform/etcdform/internal/command/arguments"
)

// argError handles a parse result: help goes to stdout with exit 0, a bad
// command line to stderr with usage and exit 1. done is false when err is nil.
func argError(env *Env, name string, fs *flag.FlagSet, err error) (code int, done bool) {
	if err == nil {
		return 0, false
	}
	if errors.Is(err, arguments.ErrHelp) {
		fmt.Fprintf(env.Stdout, "Usage: etcdform %s [flags]\n\n%s", name, arguments.Usage(fs))
		return 0, true
	}
	fmt.Fprintf(env.Stderr, "etcdform: %v\n\nUsage: etcdform %s [flags]\n\n%s", err, name, arguments.Usage(fs))
	return 1, true
}
