package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// LoadOptions carries the command-line and environment input of Load.
type LoadOptions struct {
	// Vars are raw "-var name=value" arguments, in command-line order.
	Vars []string
	// VarFiles are "-var-file" paths, in command-line order. Relative
	// paths are taken relative to the working directory, as a shell would.
	VarFiles []string
	// Getenv reads the environment: ETCDFORM_VAR_<name> variables and the
	// env() function. nil means an empty environment.
	Getenv func(string) string
	// Strict reports the safe-default diagnostics (a risk a cluster does
	// not accept, an accept_risk for a risk it does not carry) as errors
	// instead of warnings: `validate --strict`, `plan --strict`.
	Strict bool
}

// EnvVarPrefix is the prefix of environment variables that set input
// variables: ETCDFORM_VAR_ssh_user=ops sets var.ssh_user.
const EnvVarPrefix = "ETCDFORM_VAR_"

// AutoVarFile is loaded from the configuration directory when present,
// as are files ending in AutoVarFileSuffix, in name order.
const (
	AutoVarFile       = "etcdform.vars"
	AutoVarFileSuffix = ".auto.vars"
)

// Load reads every .hcl file of dir (or the single file dir names),
// evaluates variables, locals and functions, and decodes and validates the
// clusters. It always returns a Config, partial when there are errors, whose
// Files lets a view render snippets. Sensitive values are redacted from the
// returned diagnostics.
func Load(dir string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	cfg := &Config{Files: map[string][]byte{}}
	names := []string{}
	st, err := os.Stat(dir)
	if err != nil {
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration", Detail: fmt.Sprintf("Cannot read %s: %s.", dir, rootCause(err))}}
	}
	root := dir
	if st.IsDir() {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration directory", Detail: fmt.Sprintf("Cannot list %s: %s.", dir, rootCause(err))}}
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, filepath.Join(dir, e.Name()))
			}
		}
	} else {
		names = append(names, dir)
		root = filepath.Dir(dir)
	}
	files := map[string][]byte{}
	var diags hcl.Diagnostics
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read configuration file", Detail: fmt.Sprintf("Cannot read %s: %s.", n, rootCause(err))})
			continue
		}
		files[n] = b
	}
	if len(names) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No configuration files", Detail: fmt.Sprintf("The directory %s holds no .hcl files.", dir)})
	}
	cfg, more := LoadFiles(root, files, opts)
	return cfg, append(diags, more...)
}

// LoadFiles is Load over files already in memory, keyed by the file name
// used in diagnostics. dir is the directory relative references resolve
// against; auto-loaded variable files are looked for there too.
func LoadFiles(dir string, files map[string][]byte, opts LoadOptions) (*Config, hcl.Diagnostics) {
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	cfg := &Config{Dir: abs, Files: map[string][]byte{}}
	l := newLoader(cfg, opts)
	l.load(dir, files)
	cfg.Sensitive = l.sensitive
	return cfg, redact(dedupe(l.diags), l.sensitive, l.marked)
}

func newLoader(cfg *Config, opts LoadOptions) *loader {
	return &loader{cfg: cfg, opts: opts, parsed: map[string]*hcl.File{}, attrRanges: map[*Member]map[string]hcl.Range{},
		rejected: map[*hcl.Attribute]bool{}, localUnits: map[string]int64{}, varUnits: map[string]int64{}}
}

type loader struct {
	cfg       *Config
	opts      LoadOptions
	parsed    map[string]*hcl.File
	diags     hcl.Diagnostics
	sensitive []string
	ctx       *hcl.EvalContext
	// attrRanges records where each member's attributes were set, for
	// diagnostics of the cross-member rules.
	attrRanges map[*Member]map[string]hcl.Range
	// rejected holds the attributes whose value str refused (and left
	// out), so rules that need them present do not report them missing.
	rejected map[*hcl.Attribute]bool
	// localsCopied counts the values put into the `local` objects that
	// local values are evaluated with: linear evaluation keeps it at the
	// number of references, not the number of locals squared.
	localsCopied int
	// localUnits and varUnits bound the size of each local's and
	// variable's value, evalUnits the work of the expressions evaluated so
	// far (see afford); evalExceeded is set once the work is refused.
	localUnits, varUnits map[string]int64
	evalUnits            int64
	evalExceeded         bool
	// marked is set when a variable is sensitive, so values may carry
	// sensitiveMark.
	marked bool
}

var topSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "cluster", LabelNames: []string{"name"}},
	},
}

func (l *loader) load(dir string, files map[string][]byte) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var bodies []*hcl.BodyContent
	for _, n := range names {
		src := files[n]
		l.cfg.Files[n] = src
		f, diags := ParseConfig(src, n)
		l.diags = append(l.diags, diags...)
		if f == nil {
			continue
		}
		l.parsed[n] = f
		if diags.HasErrors() {
			continue // a half-parsed file would only add confusing errors
		}
		content, diags := f.Body.Content(topSchema)
		l.diags = append(l.diags, diags...)
		bodies = append(bodies, content)
	}

	var varBlocks, localBlocks, clusterBlocks hcl.Blocks
	for _, c := range bodies {
		for _, b := range c.Blocks {
			switch b.Type {
			case "variable":
				varBlocks = append(varBlocks, b)
			case "locals":
				localBlocks = append(localBlocks, b)
			case "cluster":
				clusterBlocks = append(clusterBlocks, b)
			}
		}
	}

	l.ctx = &hcl.EvalContext{Functions: functions(l.cfg.Dir, l.opts.Getenv), Variables: map[string]cty.Value{}}
	vars := l.variables(dir, varBlocks)
	l.ctx.Variables["var"] = cty.ObjectVal(vars)
	l.ctx.Variables["local"] = cty.ObjectVal(l.locals(localBlocks))
	l.clusters(clusterBlocks)
	l.uses(varBlocks, localBlocks, clusterBlocks)
	l.validate()

	// The hash covers every file that shaped the configuration.
	hnames := make([]string, 0, len(l.cfg.Files))
	for n := range l.cfg.Files {
		hnames = append(hnames, n)
	}
	sort.Strings(hnames)
	h := sha256.New()
	for _, n := range hnames {
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(n), len(l.cfg.Files[n]))
		h.Write(l.cfg.Files[n])
	}
	l.cfg.Hash = hex.EncodeToString(h.Sum(nil))
}

// rootCause strips the path that os errors repeat.
func rootCause(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// dedupe drops repeated diagnostics, which arise when the cluster tls block
// is evaluated once per member.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	out := diags[:0:0]
	for _, d := range diags {
		k := fmt.Sprintf("%d\x00%s\x00%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			k += "\x00" + d.Subject.String()
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}
