package command

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/internal/connect"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

func init() {
	register("apply", "Carry out a saved plan (or plan and apply a configuration) one member at a time", runApply)
}

func runApply(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseApply(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	var (
		p        *plan.Plan
		cfg      *schema.Config
		planHash string
		// down is shared by every observation of this run and the
		// apply's own client: a member that does not answer costs one
		// endpoint timeout, not one per observation and step.
		down = connect.NewDown()
	)
	st, err := os.Stat(a.Target)
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: %v\n", err)
		return 1
	}
	if isPlanFile(a.Target, st) {
		data, err := os.ReadFile(a.Target)
		if err != nil {
			fmt.Fprintf(env.Stderr, "Error: %v\n", err)
			return 1
		}
		p, err = readPlan(env, data)
		if err != nil {
			fmt.Fprintf(env.Stderr, "Error: %s: %v\n", a.Target, err)
			return 1
		}
		sum := sha256.Sum256(data)
		planHash = hex.EncodeToString(sum[:])
		var ok bool
		dir := p.Meta.ConfigDir
		if a.ConfigDir != "" {
			dir = a.ConfigDir
		}
		if cfg, ok = loadConfig(env, dir, a.Vars, a.VarFiles); !ok {
			return 1
		}
		if msg := checkSelection(p, a.Clusters); msg != "" {
			fmt.Fprintln(env.Stderr, msg)
			return 1
		}
		// A plan of selected clusters: load only those, so that nothing
		// below (the re-plan, the stale check, the lock, the steps)
		// contacts another cluster's members.
		if cfg, ok = selectClusters(env, cfg, p.Meta.Selection); !ok {
			return 1
		}
		// A cluster that had no leader when it was planned (a recovery)
		// is first read from a member's own view: a linearizable read
		// would only wait out its timeout. Should the quorum be back, the
		// stale-plan check sees the leader and refuses the plan.
		for _, cf := range p.Fingerprint.Clusters {
			if cf.Leaderless != "" {
				down.Cluster(cf.Name).AssumeQuorumLost()
			}
		}
	} else {
		if env.Getenv(envVerifyKey) != "" {
			fmt.Fprintf(env.Stderr, "Error: %s is set, so apply carries out only a signed plan file, and %s is a configuration. Run `etcdform plan --out FILE` with %s set, then apply FILE.\n", envVerifyKey, a.Target, envSigningKey)
			return 1
		}
		var ok bool
		if cfg, ok = loadConfig(env, a.Target, a.Vars, a.VarFiles); !ok {
			return 1
		}
		if cfg, ok = selectClusters(env, cfg, a.Clusters); !ok {
			return 1
		}
		p = makePlan(ctx, env, cfg, plan.Options{Only: a.Only}, connect.Options{Down: down})
		p.Meta.Selection = selection(cfg, a.Clusters)
		planHash = planInThisRun
	}
	if err := views.NewPlanView(views.PlanFormatHuman, color(env)).Plan(env.Stdout, p); err != nil {
		return 1
	}
	if a.RequireCommit != "" && p.Meta.GitCommit != a.RequireCommit {
		fmt.Fprintf(env.Stderr, "Error: the plan was made at commit %q, not at %s (--require-commit). Apply only the plan of this commit's pipeline.\n", p.Meta.GitCommit, a.RequireCommit)
		return 1
	}
	if msg := checkOnly(p, a.Only); msg != "" {
		fmt.Fprintln(env.Stderr, msg)
		return 1
	}
	if p.HasRefusals() {
		fmt.Fprintln(env.Stderr, "Error: the plan has refusals (above) and cannot be applied.")
		return 1
	}
	if !p.HasChanges() {
		fmt.Fprintln(env.Stdout, "\nNothing to apply.")
		return 0
	}
	// A restore's identity is read before anything else happens, so that
	// a missing or unreadable one stops the apply before any lock.
	fetch, err := backupFetcher(env, cfg, p, a.Identity)
	if err != nil {
		fmt.Fprintln(env.Stderr, "Error:", err)
		return 1
	}
	// A saved plan's steps are derived again from the configuration and
	// the clusters. With --auto-approve that happens once, under the lock,
	// from the observation apply makes for its stale-plan check (one
	// observation, not two, before the first step); asked for
	// confirmation, apply checks before asking too, so that nobody
	// confirms a plan it would then refuse.
	var verify func(ctx context.Context, cluster string, obs *state.Observed) error
	if planHash != planInThisRun {
		if msg := configChanged(cfg, p); msg != "" {
			fmt.Fprintln(env.Stderr, "Error: "+msg)
			return 1
		}
		if !a.AutoApprove {
			if msg := verifySteps(ctx, env, cfg, p, down); msg != "" {
				fmt.Fprintln(env.Stderr, msg)
				return 1
			}
		}
		verify = func(_ context.Context, cluster string, obs *state.Observed) error {
			if msg := stepsDiffer(env, cfg, p, obs, cluster); msg != "" {
				return errors.New(msg)
			}
			return nil
		}
	}
	if !a.AutoApprove && !env.StdinTTY {
		fmt.Fprintln(env.Stderr, "Error: apply needs confirmation, and there is no terminal to ask on. Review the plan, then run with --auto-approve (as CI pipelines do).")
		return 1
	}
	if !a.AutoApprove {
		fmt.Fprint(env.Stdout, "\nDo you want to carry out these steps? Only 'yes' will be accepted: ")
		line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(env.Stderr, "Apply cancelled.")
			return 1
		}
	}
	var auditW io.Writer
	if a.AuditLog != "" {
		f, err := os.OpenFile(a.AuditLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			fmt.Fprintf(env.Stderr, "Error: audit log: %v\n", err)
			return 1
		}
		defer f.Close()
		auditW = f
	}
	// The author is who made the plan; the approver who runs this apply.
	author := p.Meta.Author
	if author == "" {
		author = env.CI.Author
	}
	audit := apply.NewAudit(auditW, planHash, p.Meta.GitCommit, author)
	audit.Approver, audit.PipelineURL, audit.JobURL = env.CI.Approver, env.CI.PipelineURL, env.CI.JobURL
	progress := views.NewApplyProgress(env.Stdout, env.StdoutTTY)
	hosts := connect.NewHostPool()
	defer hosts.Close()
	res, err := apply.Run(ctx, p, connect.Connector{Config: cfg, Down: down, Hosts: hosts}, apply.Options{
		LockTimeout: a.LockTimeout, GateTimeout: a.GateTimeout, StepTimeout: a.StepTimeout,
		SnapshotDir: a.SnapshotDir, Audit: audit, AuditKeep: a.AuditKeep, Progress: progress.Event, Backup: preApplyBackup(env, cfg),
		Verify: verify, FetchBackup: fetch,
	})
	progress.Result(res, err)
	if aerr := audit.Err(); aerr != nil {
		fmt.Fprintf(env.Stderr, "Error: writing the audit log: %v\n", aerr)
		return 1
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "\nError: %v\n", err)
		if errors.Is(err, apply.ErrStale) || errors.Is(err, apply.ErrRefused) || errors.Is(err, apply.ErrPlanDiffers) {
			return 1
		}
		if errors.Is(err, apply.ErrInterrupted) {
			fmt.Fprintln(env.Stderr, "The apply was interrupted and started no further step; the step it was in may be half done. Run `etcdform plan` again to see what is left.")
			return 1
		}
		fmt.Fprintln(env.Stderr, "The apply stopped safely at the failed step. Run `etcdform plan` again to see what is left.")
		return 1
	}
	return 0
}

// isPlanFile tells a saved plan from a configuration: a regular file that
// does not end in .hcl.
func isPlanFile(path string, st os.FileInfo) bool {
	return st.Mode().IsRegular() && filepath.Ext(path) != ".hcl"
}

// planInThisRun is the plan hash recorded for a configuration planned and
// applied in one run.
const planInThisRun = "(planned in this run)"

// verifySteps derives the steps of a saved plan again, from cfg (which
// p.Meta.ConfigHash binds) and a fresh observation, the way `plan` does,
// and returns the error to print when they differ from p's steps: an
// unsigned plan file can be edited and re-checksummed, and apply must
// carry out only what the configuration gives. A leader change alone is
// no difference (plan.PinLeaders). It returns "" when the steps match.
// The stale-plan check under the lock (apply.Run) then binds the world
// apply acts on to this observation.
func verifySteps(ctx context.Context, env *Env, cfg *schema.Config, p *plan.Plan, down *connect.Down) string {
	if msg := configChanged(cfg, p); msg != "" {
		return "Error: " + msg
	}
	obs := observe(ctx, env, cfg, connect.Options{Down: down})
	if diffs := state.DiffFingerprint(p.Fingerprint, state.FingerprintOf(obs)); len(diffs) > 0 {
		return fmt.Sprintf("Error: %v. Differences:\n  - %s", apply.ErrStale, strings.Join(diffs, "\n  - "))
	}
	if msg := stepsDiffer(env, cfg, p, obs, ""); msg != "" {
		return "Error: " + msg
	}
	return ""
}

// configChanged returns why p cannot be applied with cfg when cfg is not
// the configuration p was made from (p.Meta.ConfigHash), else "".
func configChanged(cfg *schema.Config, p *plan.Plan) string {
	if p.Meta.ConfigHash != "" && cfg.Hash != p.Meta.ConfigHash {
		return fmt.Sprintf("the configuration in %s changed since the plan was made (hash %.12s, planned %.12s). Run plan again.", cfg.Dir, cfg.Hash, p.Meta.ConfigHash)
	}
	return ""
}

// stepsDiffer plans cfg again against obs, with the leaders pinned to the
// saved steps' (plan.PinLeaders), and returns what to print when the steps
// and targets of cluster ("" for every cluster) differ from p's, else "".
// Apply calls it under the lock with its stale-plan check's observation of
// one cluster (apply.Options.Verify); the other clusters, not observed
// there, are left out of the comparison.
func stepsDiffer(env *Env, cfg *schema.Config, p *plan.Plan, obs *state.Observed, cluster string) string {
	in := func(name string) bool { return cluster == "" || name == cluster }
	saved := plan.StepsOf(p.Steps, in)
	diffs := plan.PinLeaders(obs, saved)
	// A reduced plan is compared with the same reduction, a recovery plan
	// with the recovery, a bootstrap with its tokens.
	fresh := planAgainst(env, cfg, obs, plan.Options{AllowEven: true, Only: p.Meta.Only, Recover: p.Meta.Recover,
		RestoreFrom: p.Meta.RestoreFrom, RestoreOverData: p.Meta.RestoreOverData, Tokens: plan.PinTokens(p.Steps)})
	diffs = append(diffs, plan.CompareSteps(saved, plan.StepsOf(fresh.Steps, in))...)
	diffs = append(diffs, plan.CompareTargets(plan.TargetsOf(p.Targets, in), plan.TargetsOf(fresh.Targets, in))...)
	if len(diffs) == 0 {
		return ""
	}
	msg := fmt.Sprintf("the plan's steps are not the ones the configuration in %s gives for the clusters as they are now, so apply will not carry it out: the plan file was edited after it was made, was made by another etcdform version, or the clusters changed in a way the stale-plan check does not cover. Nothing was applied. Differences:\n  - %s", cfg.Dir, strings.Join(diffs, "\n  - "))
	var lines []string
	for _, r := range fresh.Refusals {
		if in(r.Cluster) {
			lines = append(lines, fmt.Sprintf("  - %s: %s: %s", r.Cluster, r.Summary, r.Detail))
		}
	}
	if len(lines) > 0 {
		msg += "\nPlanned now, the configuration is refused:\n" + strings.Join(lines, "\n")
	}
	return msg + "\nRun plan again, review it, and apply the new plan file."
}

// checkSelection returns the error to print when apply --cluster is given
// a plan file made for another selection (a per-cluster CI job must apply
// only its own cluster's plan), or "" when clusters is empty or names the
// plan's selection.
func checkSelection(p *plan.Plan, clusters []string) string {
	if len(clusters) == 0 {
		return ""
	}
	want := slices.Compact(slices.Sorted(slices.Values(clusters)))
	got := slices.Sorted(slices.Values(p.Meta.Selection))
	if slices.Equal(want, got) {
		return ""
	}
	made := "a plan of every cluster in the configuration"
	if len(got) > 0 {
		made = "a plan of --cluster " + strings.Join(got, ", ")
	}
	return fmt.Sprintf("Error: --cluster %s: this is %s, so apply will not carry it out. Nothing was applied. Make the plan with `etcdform plan --cluster %s`, or apply it with the selection it was made for.", strings.Join(want, ", "), made, strings.Join(want, " --cluster "))
}

// checkOnly returns the error to print when apply --only is given a plan
// that is not such a plan: one not made with plan --only, or one holding a
// step outside the selection (apply re-derives the steps too, but a
// scheduled job must never carry out config work, whatever the file says).
// It returns "" when only is "" or the plan is one of only.
func checkOnly(p *plan.Plan, only string) string {
	if only == "" {
		return ""
	}
	if p.Meta.Only != only {
		made := "a whole plan"
		if p.Meta.Only != "" {
			made = "a plan of --only " + p.Meta.Only
		}
		return fmt.Sprintf("Error: --only %s: this is %s, not one made with `etcdform plan --only %s`, so apply will not carry it out. Nothing was applied. Make the plan with --only %s, or review this plan and apply it without --only.", only, made, only, only)
	}
	if steps := plan.NotSelected(p, only); len(steps) > 0 {
		return fmt.Sprintf("Error: --only %s: the plan holds steps that are not %s steps, so apply will not carry it out. Nothing was applied. Steps:\n  - %s\nReview the plan and apply it without --only.", only, only, strings.Join(steps, "\n  - "))
	}
	return ""
}
