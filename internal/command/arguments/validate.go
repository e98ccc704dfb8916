package arguments

import (
	"flag"
	"fmt"
)

// Validate holds `etcdform validate` arguments.
type Validate struct {
	JSON bool
	// Strict turns the safe-default warnings (a risk a cluster does not
	// accept with accept_risk) into errors.
	Strict   bool
	Vars     []string // raw -var name=value, in order
	VarFiles []string // -var-file paths, in order
	Path     string   // directory or file; default "."
}

// ParseValidate parses `etcdform validate [--json] [--strict] [--var name=value]...
// [--var-file FILE]... [PATH]`.
func ParseValidate(args []string) (*Validate, *flag.FlagSet, error) {
	v := &Validate{Path: "."}
	fs := newFlagSet("validate", "validate [flags] [PATH]", "")
	fs.BoolVar(&v.JSON, "json", false, "print the result as JSON")
	fs.BoolVar(&v.Strict, "strict", false, strictUsage)
	varFlags(fs, &v.Vars, &v.VarFiles)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return v, fs, err
	}
	switch len(pos) {
	case 0:
	case 1:
		v.Path = pos[0]
	default:
		return v, fs, fmt.Errorf("validate: expected at most one PATH, got %d arguments", len(pos))
	}
	return v, fs, nil
}

// strictUsage documents --strict (validate and plan).
const strictUsage = "fail on the safe-default warnings (default quota, compaction off, plaintext, peer client-cert auth off, auth off) that the cluster does not accept with an accept_risk block and a reason"

// Fmt holds `etcdform fmt` arguments.
type Fmt struct {
	Check bool
	Paths []string // files or directories; default "."
}

// ParseFmt parses `etcdform fmt [--check] [PATH...]`.
func ParseFmt(args []string) (*Fmt, *flag.FlagSet, error) {
	f := &Fmt{}
	fs := newFlagSet("fmt", "fmt [--check] [PATH...]", "")
	fs.BoolVar(&f.Check, "check", false, "do not rewrite; exit 1 and list the files that are not formatted")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return f, fs, err
	}
	f.Paths = pos
	if len(f.Paths) == 0 {
		f.Paths = []string{"."}
	}
	return f, fs, nil
}

// parseInterspersed parses flags that may come after positional arguments
// ("validate PATH --json") and returns the positional ones. "--" ends flag
// parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
