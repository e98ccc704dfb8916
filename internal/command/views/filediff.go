package views

import (
	"fmt"
	"strings"

	"github.com/etcdform/etcdform/internal/lcs"
	"github.com/etcdform/etcdform/internal/servicedef"
	"github.com/etcdform/etcdform/plan"
)

// diffContext is the number of unchanged lines shown around a change.
const diffContext = 3

// fileWrite is one file a step writes, for display.
type fileWrite struct {
	Title    string // "config file", "/etc/cron.d/etcdform-backup-lab"
	Note     string // how it is rendered: "diff against the file on the host"
	Lines    []string
	Changed  bool // false: the file on the host is already this content
	Complete bool // the lines are the whole file
}

// stepFiles lists what a step writes and removes on a host, rendered as
// text lines: whole files as diffs against what the host held when planned
// (a few lines of context) or in full when new, removed files by path, and
// uploads by source and hash (never their bytes).
func stepFiles(s plan.Step) (writes []fileWrite, other []string) {
	if s.Config != nil {
		title := "config file"
		if s.Action == plan.InstallService && s.Target != nil {
			title = "service definition " + servicedef.Path(s.Target.Service.Manager, s.Target.Service.Name)
		}
		w := contentWrite(title, s.Config, s.ConfigObserved, s.ConfigObserved == nil)
		if s.Action == plan.AddLearner {
			w.Note = "new member: in full; apply fills in initial-cluster from the live member list"
		}
		writes = append(writes, w)
	}
	for _, u := range s.Uploads {
		switch s.Action {
		case plan.UpgradeMember, plan.DowngradeMember:
			other = append(other, fmt.Sprintf("swap in %s%s, staged above (sha256 %s); the old one kept as %s.bak", u.Path, ".etcdform-new", u.SHA256, u.Path))
		case plan.StageBinary:
			other = append(other, fmt.Sprintf("stage %s%s from %s (sha256 %s, mode %04o)", u.Path, ".etcdform-new", u.Source, u.SHA256, u.Mode))
		default:
			other = append(other, fmt.Sprintf("upload %s from %s (sha256 %s, mode %04o)", u.Path, u.Source, u.SHA256, u.Mode))
		}
	}
	if j := s.Job; j != nil {
		for _, f := range j.Write {
			writes = append(writes, contentWrite(f.Path, f.Content, f.Observed, f.Observed == nil))
		}
		for _, t := range j.StopTimers {
			other = append(other, "stop and disable "+t)
		}
		for _, p := range j.Remove {
			other = append(other, "remove "+p+" (if present)")
		}
	}
	return writes, other
}

func contentWrite(title string, content, observed []byte, isNew bool) fileWrite {
	w := fileWrite{Title: title, Changed: true}
	if isNew {
		w.Note, w.Complete = "new: in full", true
		for _, l := range splitLines(content) {
			w.Lines = append(w.Lines, "+"+l)
		}
		return w
	}
	w.Note = "diff against the file on the host"
	w.Lines = unifiedDiff(splitLines(observed), splitLines(content), diffContext)
	w.Changed = len(w.Lines) > 0
	return w
}

// splitLines splits a file into lines, with control characters other
// than tab shown as \xNN: a file on a host may hold anything, and a
// terminal must not act on it.
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		lines[i] = visible(l)
	}
	return lines
}

func visible(s string) string { return controlChars.Replace(s) }

// controlChars replaces each control character but tab with its \xNN.
var controlChars = func() *strings.Replacer {
	var pairs []string
	for c := 0; c < 0x20; c++ {
		if c != '\t' {
			pairs = append(pairs, string(rune(c)), fmt.Sprintf("\\x%02x", c))
		}
	}
	return strings.NewReplacer(append(pairs, "\x7f", "\\x7f")...)
}()

// unifiedDiff renders b as a unified diff against a: hunks headed
// "@@ -l,n +l,n @@" of " " (context), "-" and "+" lines. It is nil when
// they are equal.
func unifiedDiff(a, b []string, context int) []string {
	type op struct {
		kind byte // ' ', '-', '+'
		line string
		ai   int // lines of a before this one
		bi   int // lines of b before this one
	}
	var ops []op
	ia, ib := 0, 0 // lines of a and b before this one
	for _, pr := range lcs.Align(a, b) {
		switch {
		case pr.B < 0:
			ops = append(ops, op{'-', a[pr.A], ia, ib})
			ia++
		case pr.A < 0:
			ops = append(ops, op{'+', b[pr.B], ia, ib})
			ib++
		default:
			ops = append(ops, op{' ', a[pr.A], ia, ib})
			ia++
			ib++
		}
	}
	var out []string
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk: from context lines before this change to context lines
		// after the last change that is within 2*context of the previous.
		start := max(0, k-context)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		var la, lb int
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				la++
			}
			if o.kind != '-' {
				lb++
			}
		}
		out = append(out, fmt.Sprintf("@@ -%s +%s @@", hunkRange(ops[start].ai, la), hunkRange(ops[start].bi, lb)))
		for _, o := range ops[start:end] {
			out = append(out, string(o.kind)+o.line)
		}
		k = end
	}
	return out
}

// hunkRange is a unified diff range: 1-based start and length, with the
// line before an empty range as its start.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}
