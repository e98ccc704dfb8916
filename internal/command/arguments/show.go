package arguments

import (
	"errors"
	"flag"
	"fmt"
)

// Show holds `etcdform show` arguments.
type Show struct {
	JSON     bool
	Markdown bool
	// File is the saved plan to render.
	File string
}

// ParseShow parses `etcdform show [--json|--markdown] FILE`.
func ParseShow(args []string) (*Show, *flag.FlagSet, error) {
	s := &Show{}
	fs := newFlagSet("show", "show [--json | --markdown] FILE", "")
	fs.BoolVar(&s.JSON, "json", false, "render as the JSON document of docs/plan-json.md")
	fs.BoolVar(&s.Markdown, "markdown", false, "render as a merge-request comment")
	if err := parse(fs, args); err != nil {
		return s, fs, err
	}
	switch {
	case s.JSON && s.Markdown:
		return s, fs, errors.New("show: --json and --markdown exclude each other")
	case fs.NArg() == 0:
		return s, fs, errors.New("show: a plan FILE is required")
	case fs.NArg() > 1:
		return s, fs, fmt.Errorf("show: unexpected argument %q", fs.Arg(1))
	}
	s.File = fs.Arg(0)
	return s, fs, nil
}
