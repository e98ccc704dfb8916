package arguments

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/connect"
	"github.com/etcdform/etcdform/plan"
)

// Plan holds `etcdform plan` arguments.
type Plan struct {
	Out              string
	JSON             bool
	Markdown         bool
	DetailedExitcode bool
	AllowEven        bool
	// Recover plans the recovery of a cluster that lost its quorum
	// (never implied).
	Recover bool
	// Strict refuses to plan a configuration with a safe-default warning
	// (as validate --strict).
	Strict bool
	Vars   []string
	// RestoreFrom plans the restore of the cluster from a backup:
	// "latest" or a snapshot ID (never implied). RestoreOverData allows
	// it over data dirs that hold data (moved aside).
	RestoreFrom     string
	RestoreOverData bool
	VarFiles        []string
	Timeout         time.Duration
	// Only is the --only selection ("maintenance"), or "" for the whole
	// plan.
	Only string
	// Clusters is the --cluster selection (repeatable); empty for every
	// cluster in the configuration.
	Clusters []string
	Path     string
}

// ParsePlan parses `etcdform plan [--out FILE] [--json|--markdown]
// [--detailed-exitcode] [--allow-even] [--recover] [--strict] [--var k=v]... [--var-file F]... [PATH]`.
func ParsePlan(args []string) (*Plan, *flag.FlagSet, error) {
	p := &Plan{Path: "."}
	fs := newFlagSet("plan", "plan [flags] [PATH]", "")
	fs.StringVar(&p.Out, "out", "", "write the plan to `FILE` (a new path or a regular file), for etcdform apply FILE")
	fs.BoolVar(&p.JSON, "json", false, "print the plan as JSON (docs/plan-json.md)")
	fs.BoolVar(&p.Markdown, "markdown", false, "print the plan as Markdown for a merge-request comment")
	fs.BoolVar(&p.DetailedExitcode, "detailed-exitcode", false, "exit 0 with no changes, 2 with changes, 1 on error")
	fs.BoolVar(&p.AllowEven, "allow-even", false, "allow a plan that leaves an even number of voters")
	fs.BoolVar(&p.Recover, "recover", false, "plan the recovery of a cluster that lost its quorum from its survivor (the member with the highest applied index): the others stopped with their data moved aside, the survivor made a one-member cluster with a new cluster ID, the others added back; entries the survivor has not applied are lost")
	fs.StringVar(&p.RestoreFrom, "restore-from", "", "plan the restore of the cluster from the backup `SNAPSHOT` (latest, or a snapshot ID or object name) at its backup destination, when its data is lost: every member stopped, the same snapshot restored on each as a new cluster (revision bumped), started; writes after the backup are lost. Apply needs the age identity (--identity)")
	fs.BoolVar(&p.RestoreOverData, "restore-over-data", false, "with --restore-from: restore even though data dirs hold data (no quorum left); each member/ is moved aside, never deleted")
	fs.DurationVar(&p.Timeout, "timeout", connect.DefaultObserveTimeout, "bound on observing each cluster")
	fs.BoolVar(&p.Strict, "strict", false, strictUsage)
	onlyFlag(fs, &p.Only, "keep only the steps of `SELECTION` (maintenance: compact, defrag, disarm-alarm) and list the others as left out")
	clusterFlag(fs, &p.Clusters, "observe and plan only the cluster `NAME` (repeatable); the plan file records the selection")
	varFlags(fs, &p.Vars, &p.VarFiles)
	if err := parse(fs, args); err != nil {
		return p, fs, err
	}
	if err := positive(fs, "timeout"); err != nil {
		return p, fs, err
	}
	if p.JSON && p.Markdown {
		return p, fs, fmt.Errorf("plan: --json and --markdown cannot be combined")
	}
	switch {
	case p.RestoreOverData && p.RestoreFrom == "":
		return p, fs, fmt.Errorf("plan: --restore-over-data goes with --restore-from")
	case p.RestoreFrom != "" && p.Recover:
		return p, fs, fmt.Errorf("plan: --restore-from and --recover cannot be combined: the one restores a backup, the other recovers from a surviving member")
	case p.RestoreFrom != "" && p.Only != "":
		return p, fs, fmt.Errorf("plan: --restore-from and --only cannot be combined")
	}
	switch fs.NArg() {
	case 0:
	case 1:
		p.Path = fs.Arg(0)
	default:
		return p, fs, fmt.Errorf("plan: expected at most one PATH, got %d arguments", fs.NArg())
	}
	return p, fs, nil
}

// Apply holds `etcdform apply` arguments.
type Apply struct {
	AutoApprove bool
	LockTimeout time.Duration
	GateTimeout time.Duration
	StepTimeout time.Duration
	SnapshotDir string
	AuditLog    string
	// AuditKeep is how many in-cluster audit records each cluster keeps
	// (older ones are folded into its summary record).
	AuditKeep int
	Vars      []string
	VarFiles  []string
	// Target is a plan file, or a configuration directory/file to plan and
	// apply in one go.
	Target string

	// Identity is the age identity file that decrypts the backup a
	// restore plan fetches (never printed).
	Identity string

	// RequireCommit, when set, refuses a plan recorded at another commit.
	RequireCommit string
	// Only, when set, refuses a plan file that was not reduced to this
	// selection or holds a step outside it, and reduces a plan made in
	// this run to it.
	Only string
	// ConfigDir, when set, is where a plan file's configuration is loaded
	// from instead of the directory recorded in the plan (CI jobs check
	// the repository out at different paths). Its hash must still match.
	ConfigDir string
	// Clusters is the --cluster selection: it reduces a configuration's
	// plan to these clusters, and refuses a plan file whose selection is
	// another (a per-cluster CI job applies only its own cluster's plan).
	Clusters []string
}

// ParseApply parses `etcdform apply [flags] PLANFILE|PATH`.
func ParseApply(args []string) (*Apply, *flag.FlagSet, error) {
	a := &Apply{}
	fs := newFlagSet("apply", "apply [flags] PLANFILE|PATH", "")
	fs.BoolVar(&a.AutoApprove, "auto-approve", false, "do not ask for confirmation (required without a terminal)")
	fs.DurationVar(&a.LockTimeout, "lock-timeout", time.Minute, "how long to wait for another apply's lock")
	fs.DurationVar(&a.GateTimeout, "gate-timeout", 2*time.Minute, "bound on each health gate")
	fs.DurationVar(&a.StepTimeout, "step-timeout", 2*time.Minute, "bound on each step's own work")
	fs.StringVar(&a.SnapshotDir, "snapshot-dir", "etcdform-snapshots", "`DIR` where the pre-change snapshot goes when no backup destination is set")
	fs.StringVar(&a.AuditLog, "audit-log", "", "append the audit record (JSON lines) to `FILE`")
	fs.IntVar(&a.AuditKeep, "audit-keep", 100, "keep the newest `N` in-cluster audit records of each cluster; older ones are folded into its summary record, never dropped unaccounted")
	fs.StringVar(&a.ConfigDir, "config-dir", "", "load a plan file's configuration from `DIR`, not the directory recorded in the plan (it must not have changed)")
	onlyFlag(fs, &a.Only, "apply only a plan of `SELECTION` (maintenance): refuse a plan file that holds any other step; reduce a configuration's plan to it")
	fs.StringVar(&a.Identity, "identity", "", "age identity `FILE` that decrypts the backup a plan --restore-from plan restores (or set ETCDFORM_BACKUP_IDENTITY to the identity); never printed or stored")
	fs.StringVar(&a.RequireCommit, "require-commit", "", "refuse a plan whose recorded git commit is not `SHA` (CI: the pipeline's commit)")
	clusterFlag(fs, &a.Clusters, "apply only to the cluster `NAME` (repeatable): plan a configuration for it alone, or refuse a plan file made for another selection")
	varFlags(fs, &a.Vars, &a.VarFiles)
	if err := parse(fs, args); err != nil {
		return a, fs, err
	}
	if fs.NArg() != 1 {
		return a, fs, fmt.Errorf("apply: expected one PLANFILE or PATH, got %d arguments", fs.NArg())
	}
	a.Target = fs.Arg(0)
	if err := positive(fs, "lock-timeout", "gate-timeout", "step-timeout"); err != nil {
		return a, fs, err
	}
	if a.AuditKeep < 1 {
		return a, fs, fmt.Errorf("apply: --audit-keep must be at least 1")
	}
	return a, fs, nil
}

// clusterFlag adds --cluster, a repeatable cluster name.
func clusterFlag(fs *flag.FlagSet, names *[]string, usage string) {
	fs.Var((*clusterList)(names), "cluster", usage)
}

// clusterList is the value of --cluster; Set refuses an empty name.
type clusterList []string

func (s *clusterList) String() string { return strings.Join(*s, ",") }

func (s *clusterList) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("a cluster name is needed")
	}
	*s = append(*s, v)
	return nil
}

// onlyFlag adds --only, which takes a selection of plan.Selections.
func onlyFlag(fs *flag.FlagSet, only *string, usage string) {
	fs.Var((*selection)(only), "only", usage)
}

// selection is the value of --only; Set refuses a value that is not in
// plan.Selections.
type selection string

func (s *selection) String() string { return string(*s) }

func (s *selection) Set(v string) error {
	if v == "" || !plan.ValidOnly(v) {
		return fmt.Errorf("unknown selection %q; valid: %s", v, strings.Join(plan.Selections(), ", "))
	}
	*s = selection(v)
	return nil
}
