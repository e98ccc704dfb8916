package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/etcdform/etcdform/schema"
)

// Redacted replaces sensitive values in everything a diagnostics view prints.
const Redacted = schema.Redacted

// Diagnostics renders configuration diagnostics. Every implementation
// replaces each sensitive value (from schema.Config.Sensitive) wherever it
// would appear, including in source snippets.
type Diagnostics interface {
	// Validate renders the result of `etcdform validate`.
	Validate(diags hcl.Diagnostics) error
}

// DiagnosticsHuman renders diagnostics Terraform-style with source snippets.
type DiagnosticsHuman struct {
	Out, Err  io.Writer
	Files     map[string][]byte
	Sensitive []string
	Color     bool
	Width     uint
	// Strict says the safe-default warnings were checked as errors
	// (validate --strict), for the success line.
	Strict bool
}

// DiagnosticsJSON renders diagnostics as one JSON document.
type DiagnosticsJSON struct {
	Out       io.Writer
	Sensitive []string
	Strict    bool // validate --strict
}

var (
	_ Diagnostics = (*DiagnosticsHuman)(nil)
	_ Diagnostics = (*DiagnosticsJSON)(nil)
)

// Validate writes the diagnostics to Err and, when there is no error, a
// success line to Out.
func (v *DiagnosticsHuman) Validate(diags hcl.Diagnostics) error {
	if err := v.Write(diags); err != nil {
		return err
	}
	if !diags.HasErrors() {
		msg := "Success! The configuration is valid.\n"
		if v.Strict {
			msg = "Success! The configuration is valid, and each risky default the operator guides name is changed or accepted with a reason (--strict).\n"
		}
		_, err := io.WriteString(v.Out, msg)
		return err
	}
	return nil
}

// Write renders diags to Err.
func (v *DiagnosticsHuman) Write(diags hcl.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	width := v.Width
	if width == 0 {
		width = 100
	}
	var buf bytes.Buffer
	for _, d := range condense(diags) {
		// hcl's text writer scans the whole file for each snippet: give it
		// the file only up to the end of the line where the diagnostic's
		// ranges end, which is all the snippet shows.
		files := map[string]*hcl.File{}
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil {
				continue
			}
			if src, ok := v.Files[r.Filename]; ok {
				end := min(max(r.End.Byte, 0), len(src))
				if nl := bytes.IndexByte(src[end:], '\n'); nl >= 0 {
					end += nl + 1
				} else {
					end = len(src)
				}
				if f := files[r.Filename]; f == nil || len(f.Bytes) < end {
					files[r.Filename] = &hcl.File{Bytes: src[:end]}
				}
			}
		}
		w := hcl.NewDiagnosticTextWriter(&buf, files, width, v.Color)
		if err := w.WriteDiagnostic(d); err != nil {
			return err
		}
	}
	_, err := io.WriteString(v.Err, schema.RedactString(buf.String(), v.Sensitive))
	return err
}

// ValidateResult is the JSON shape of `etcdform validate --json`.
type ValidateResult struct {
	Valid bool `json:"valid"`
	// Strict: the safe-default warnings were checked as errors.
	Strict      bool             `json:"strict"`
	Diagnostics []DiagnosticJSON `json:"diagnostics"`
}

// DiagnosticJSON is one diagnostic; Range is omitted for diagnostics about
// the command line, which have no source.
type DiagnosticJSON struct {
	Severity string     `json:"severity"` // "error" | "warning"
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *RangeJSON `json:"range,omitempty"`
}

// RangeJSON is a source range; lines and columns start at 1.
type RangeJSON struct {
	Filename string  `json:"filename"`
	Start    PosJSON `json:"start"`
	End      PosJSON `json:"end"`
}

// PosJSON is a position in a source file.
type PosJSON struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// NewValidateResult converts diagnostics to their JSON form.
func NewValidateResult(diags hcl.Diagnostics) ValidateResult {
	r := ValidateResult{Valid: !diags.HasErrors(), Diagnostics: []DiagnosticJSON{}}
	for _, d := range diags {
		j := DiagnosticJSON{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if d.Subject != nil {
			j.Range = &RangeJSON{
				Filename: d.Subject.Filename,
				Start:    PosJSON{d.Subject.Start.Line, d.Subject.Start.Column},
				End:      PosJSON{d.Subject.End.Line, d.Subject.End.Column},
			}
		}
		r.Diagnostics = append(r.Diagnostics, j)
	}
	return r
}

// Validate writes the JSON document to Out.
func (v *DiagnosticsJSON) Validate(diags hcl.Diagnostics) error {
	res := NewValidateResult(diags)
	res.Strict = v.Strict
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	// Redact after encoding too, in case a value was split by escaping
	// differently than in the raw text.
	vals := append([]string(nil), v.Sensitive...)
	for _, s := range v.Sensitive {
		if enc, err := json.Marshal(s); err == nil {
			vals = append(vals, strings.Trim(string(enc), `"`))
		}
	}
	out := schema.RedactString(string(b), vals)
	_, err = io.WriteString(v.Out, out)
	return err
}

// SnippetsPerSummary is how many diagnostics of one severity and summary
// the human view shows in full, with their source snippet. The others are
// listed by position in one closing diagnostic: the text writer scans the
// file from its start for each snippet, so a file of 35,000 clusters with
// a warning each took minutes to report, and a reader learns nothing from
// the 35,000th copy.
const SnippetsPerSummary = 5

// condense keeps the first SnippetsPerSummary diagnostics of each severity
// and summary and replaces the rest by one diagnostic per such group,
// without a subject, that lists where they are.
func condense(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev     hcl.DiagnosticSeverity
		summary string
	}
	seen := map[key]int{}
	more := map[key][]string{}
	var order []key
	var out hcl.Diagnostics
	for _, d := range diags {
		k := key{d.Severity, d.Summary}
		seen[k]++
		if seen[k] <= SnippetsPerSummary {
			out = append(out, d)
			continue
		}
		if len(more[k]) == 0 {
			order = append(order, k)
		}
		at := "(no position)"
		if d.Subject != nil {
			at = fmt.Sprintf("%s:%d", d.Subject.Filename, d.Subject.Start.Line)
		}
		more[k] = append(more[k], at)
	}
	for _, k := range order {
		at := more[k]
		const listed = 20
		list := strings.Join(at[:min(len(at), listed)], ", ")
		if len(at) > listed {
			list += fmt.Sprintf(" and %d more", len(at)-listed)
		}
		out = append(out, &hcl.Diagnostic{Severity: k.sev,
			Summary: fmt.Sprintf("%s (%d more)", k.summary, len(at)),
			Detail:  fmt.Sprintf("The same %s as above, %d more times, not shown in full: at %s.", severityWord(k.sev), len(at), list)})
	}
	return out
}

func severityWord(s hcl.DiagnosticSeverity) string {
	if s == hcl.DiagError {
		return "error"
	}
	return "warning"
}
