package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
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
		moved, files, lines := snippetSource(d, v.Files)
		var one bytes.Buffer
		w := hcl.NewDiagnosticTextWriter(&one, files, width, v.Color)
		if err := w.WriteDiagnostic(moved); err != nil {
			return err
		}
		buf.Write(renumber(one.Bytes(), moved, lines))
	}
	_, err := io.WriteString(v.Err, schema.RedactString(buf.String(), v.Sensitive))
	return err
}

// snippetSource gives hcl's text writer only what the snippet of d shows.
// The writer scans its file from the start, line by line and grapheme by
// grapheme, for each snippet: with a whole 10 MB file that took 2 s per
// diagnostic near its end (and still 0.4 s with the lines before the
// snippet emptied). The file it gets holds the lines from the snippet's
// first to the last line the diagnostic's ranges touch; d comes back with
// its ranges moved to match, and lines is how many lines were cut before:
// renumber puts them back into what the writer printed.
func snippetSource(d *hcl.Diagnostic, sources map[string][]byte) (_ *hcl.Diagnostic, _ map[string]*hcl.File, lines int) {
	if d.Subject == nil {
		return d, nil, 0
	}
	src, ok := sources[d.Subject.Filename]
	if !ok {
		return d, nil, 0
	}
	whole := map[string]*hcl.File{d.Subject.Filename: {Bytes: src}}
	first, last := *d.Subject, *d.Subject
	if c := d.Context; c != nil {
		if c.Filename != d.Subject.Filename {
			return d, whole, 0
		}
		if c.Start.Byte < first.Start.Byte {
			first = *c
		}
		if c.End.Byte > last.End.Byte {
			last = *c
		}
	}
	lo, hi := first.Start.Byte, last.End.Byte
	if lo < 0 || hi < lo || hi > len(src) || first.Start.Line < 1 {
		return d, whole, 0
	}
	lineStart := bytes.LastIndexByte(src[:lo], '\n') + 1
	end := len(src)
	if nl := bytes.IndexByte(src[hi:], '\n'); nl >= 0 {
		end = hi + nl + 1
	}
	lines = first.Start.Line - 1
	moved := *d
	moved.Subject = shiftRange(d.Subject, lineStart, lines)
	if d.Context != nil {
		moved.Context = shiftRange(d.Context, lineStart, lines)
	}
	return &moved, map[string]*hcl.File{d.Subject.Filename: {Bytes: src[lineStart:end]}}, lines
}

func shiftRange(r *hcl.Range, bytes, lines int) *hcl.Range {
	s := *r
	s.Start.Byte -= bytes
	s.End.Byte -= bytes
	s.Start.Line -= lines
	s.End.Line -= lines
	return &s
}

// renumber adds lines to the line numbers hcl's writer printed for the
// diagnostic d (as moved by snippetSource): the one in "  on FILE line N"
// and the "%4d: " before each line of the snippet that follows it, up to
// the empty line that ends the snippet.
func renumber(out []byte, d *hcl.Diagnostic, lines int) []byte {
	if lines == 0 {
		return out
	}
	on := fmt.Sprintf("  on %s line %d", d.Subject.Filename, d.Subject.Start.Line)
	var b bytes.Buffer
	b.Grow(len(out) + 16)
	rest := out
	i := bytes.Index(rest, []byte(on))
	if i < 0 {
		return out
	}
	fmt.Fprintf(&b, "%s  on %s line %d", rest[:i], d.Subject.Filename, d.Subject.Start.Line+lines)
	rest = rest[i+len(on):]
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return out
	}
	b.Write(rest[:nl+1])
	rest = rest[nl+1:]
	for len(rest) > 0 && rest[0] != '\n' {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			nl = len(rest) - 1
		}
		line := rest[:nl+1]
		colon := bytes.IndexByte(line, ':')
		n, err := strconv.Atoi(string(bytes.TrimLeft(line[:max(colon, 0)], " ")))
		if colon < 0 || err != nil {
			return out
		}
		fmt.Fprintf(&b, "%4d%s", n+lines, line[colon:])
		rest = rest[nl+1:]
	}
	b.Write(rest)
	return b.Bytes()
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
