// Package arguments parses each subcommand's command line into a typed
// struct. Parsing never prints and never exits: a bad command line comes back
// as an error whose text is the diagnostic, and the caller prints usage.
package arguments

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrHelp is returned when -h or --help was given.
var ErrHelp = flag.ErrHelp

// newFlagSet returns a FlagSet that reports errors instead of printing them.
// synopsis is the command line after "etcdform" ("plan [flags] [PATH]") and
// about, when not empty, what comes between it and the flags (the
// arguments' meaning); Usage renders them.
func newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: etcdform %s\n", synopsis)
		if about != "" {
			fmt.Fprintf(w, "\n%s", about)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// Usage renders the usage message of fs: its synopsis, what its arguments
// mean and its flags. A flag's placeholder is the back-quoted word of its
// usage string (Go's flag package), so usage strings quote only that.
func Usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.Usage()
	fs.SetOutput(io.Discard)
	return b.String()
}

// parse parses args with fs and wraps flag errors with the command name.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ErrHelp
		}
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return nil
}

// positive checks that each named duration flag of fs is above zero: a
// zero or negative bound would fail every wait at once.
func positive(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if d, _ := fs.Lookup(n).Value.(flag.Getter).Get().(time.Duration); d <= 0 {
			return fmt.Errorf("%s: --%s must be a positive duration such as %s, not %s", fs.Name(), n, fs.Lookup(n).DefValue, d)
		}
	}
	return nil
}

// Version holds `etcdform version` arguments.
type Version struct {
	JSON bool
}

// ParseVersion parses `etcdform version [--json]`.
func ParseVersion(args []string) (*Version, *flag.FlagSet, error) {
	v := &Version{}
	fs := newFlagSet("version", "version [--json]", "")
	fs.BoolVar(&v.JSON, "json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return v, fs, err
	}
	if fs.NArg() > 0 {
		return v, fs, fmt.Errorf("version: unexpected argument %q", fs.Arg(0))
	}
	return v, fs, nil
}

// varFlags adds the input-variable flags --var and --var-file.
func varFlags(fs *flag.FlagSet, vars, files *[]string) {
	fs.Var((*stringList)(vars), "var", "set the input variable `NAME=VALUE` (repeatable)")
	fs.Var((*stringList)(files), "var-file", "read input variables from the HCL `FILE` (repeatable)")
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
