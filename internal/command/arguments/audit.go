package arguments

import (
	"flag"
	"fmt"
	"time"
)

// Audit holds `etcdform audit` arguments.
type Audit struct {
	Clusters []string
	Verify   bool
	JSON     bool
	Timeout  time.Duration
	Vars     []string
	VarFiles []string
	Path     string
}

// ParseAudit parses `etcdform audit [--cluster NAME]... [--verify]
// [--json] [--timeout D] [--var k=v]... [--var-file F]... [PATH]`.
func ParseAudit(args []string) (*Audit, *flag.FlagSet, error) {
	a := &Audit{Path: "."}
	fs := newFlagSet("audit", "audit [flags] [PATH]", "List each cluster's apply history from its in-cluster audit chain: when, who, commit, steps, outcome.")
	clusterFlag(fs, &a.Clusters, "only the cluster `NAME` (repeatable)")
	fs.BoolVar(&a.Verify, "verify", false, "check every link of the chain and exit 1 naming the first broken record")
	fs.BoolVar(&a.JSON, "json", false, "print the history as JSON")
	fs.DurationVar(&a.Timeout, "timeout", 30*time.Second, "bound on reading each cluster")
	varFlags(fs, &a.Vars, &a.VarFiles)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return a, fs, err
	}
	if err := positive(fs, "timeout"); err != nil {
		return a, fs, err
	}
	switch len(pos) {
	case 0:
	case 1:
		a.Path = pos[0]
	default:
		return a, fs, fmt.Errorf("audit: expected at most one PATH, got %d arguments", len(pos))
	}
	return a, fs, nil
}
