package views

import (
	"bytes"
	"encoding/json"
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
	files := make(map[string]*hcl.File, len(v.Files))
	for name, src := range v.Files {
		files[name] = &hcl.File{Bytes: src}
	}
	width := v.Width
	if width == 0 {
		width = 100
	}
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, files, width, v.Color)
	if err := w.WriteDiagnostics(diags); err != nil {
		return err
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
