package schema

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

type variable struct {
	name        string
	typ         cty.Type
	def         cty.Value
	sensitive   bool
	validations []*hcl.Block
	decl        hcl.Range
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
}

// varValue is one candidate value for a variable and where it came from.
type varValue struct {
	val cty.Value
	// rng is the source range, nil for the command line and environment.
	rng *hcl.Range
	// raw is set for command-line and environment strings, which are
	// parsed according to the variable's type.
	raw    string
	isRaw  bool
	source string // for messages: "-var", "ETCDFORM_VAR_x", a file name
}

// variables decodes the variable blocks and resolves each one's value, in
// Terraform's order of precedence (later wins): default, environment,
// etcdform.vars, *.auto.vars, -var-file and -var. Var files are applied
// before -var options.
func (l *loader) variables(dir string, blocks hcl.Blocks) map[string]cty.Value {
	decls := map[string]*variable{}
	var order []string
	for _, b := range blocks {
		name := b.Labels[0]
		if prev, dup := decls[name]; dup {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate variable declaration",
				Detail: fmt.Sprintf("A variable named %q was already declared at %s.", name, prev.decl), Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		if !hclsyntax.ValidIdentifier(name) {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable name",
				Detail: "A variable name must start with a letter or underscore and contain only letters, digits, underscores and dashes.", Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		v := &variable{name: name, typ: cty.DynamicPseudoType, def: cty.NilVal, decl: b.DefRange}
		content, diags := b.Body.Content(variableSchema)
		l.diags = append(l.diags, diags...)
		if a, ok := content.Attributes["type"]; ok {
			t, diags := typeexpr.TypeConstraint(a.Expr)
			l.diags = append(l.diags, diags...)
			if !diags.HasErrors() {
				v.typ = t
			}
		}
		if a, ok := content.Attributes["sensitive"]; ok {
			val, diags := a.Expr.Value(nil)
			l.diags = append(l.diags, diags...)
			if !diags.HasErrors() {
				if val.Type() != cty.Bool || val.IsNull() {
					l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid sensitive value", "The sensitive argument must be true or false.")...)
				} else {
					v.sensitive = val.True()
				}
			}
		}
		if a, ok := content.Attributes["description"]; ok {
			val, diags := a.Expr.Value(nil)
			l.diags = append(l.diags, diags...)
			if !diags.HasErrors() && (val.IsNull() || val.Type() != cty.String) {
				l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid description", "The description must be a string.")...)
			}
		}
		if a, ok := content.Attributes["default"]; ok {
			val, diags := a.Expr.Value(nil)
			l.diags = append(l.diags, diags...)
			if !diags.HasErrors() {
				cv, err := convert.Convert(val, v.typ)
				if err != nil {
					l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid default value for variable",
						fmt.Sprintf("The default value of variable %q does not match its type: %s.", name, err))...)
					v.def = cty.DynamicVal // reported; do not also say "no value"
				} else {
					v.def = cv
				}
			}
		}
		v.validations = content.Blocks
		decls[name] = v
		order = append(order, name)
	}

	// Collect candidate values, lowest precedence first.
	values := map[string][]varValue{}
	envNames := make([]string, 0, len(order))
	envNames = append(envNames, order...)
	for _, name := range envNames {
		if raw := l.opts.Getenv(EnvVarPrefix + name); raw != "" {
			values[name] = append(values[name], varValue{raw: raw, isRaw: true, source: EnvVarPrefix + name})
		}
	}
	var auto []string
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if !e.IsDir() && (e.Name() == AutoVarFile) {
				auto = append([]string{filepath.Join(dir, e.Name())}, auto...)
			} else if !e.IsDir() && strings.HasSuffix(e.Name(), AutoVarFileSuffix) {
				auto = append(auto, filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, f := range append(auto, l.opts.VarFiles...) {
		l.varFile(f, decls, values)
	}
	for _, arg := range l.opts.Vars {
		name, raw, ok := strings.Cut(arg, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
				Detail: fmt.Sprintf("The -var option %q is not of the form name=value.", redactArg(arg))})
			continue
		}
		if _, ok := decls[name]; !ok {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("A -var option sets %q, but no variable of that name is declared.%s", name, suggestion(name, order))})
			continue
		}
		values[name] = append(values[name], varValue{raw: raw, isRaw: true, source: "-var"})
	}

	out := map[string]cty.Value{}
	for _, name := range order {
		v := decls[name]
		val := v.def
		cands := values[name]
		if v.sensitive {
			// Record the raw inputs first, so even a value that fails to
			// convert is redacted from the diagnostics about it.
			for _, c := range cands {
				if c.isRaw {
					l.addSensitive(c.raw)
				}
			}
		}
		if len(cands) > 0 {
			c := cands[len(cands)-1]
			val = l.convertVar(v, c)
		} else if val == cty.NilVal {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No value for required variable",
				Detail:  fmt.Sprintf("The variable %q has no default, so it needs a value: set it with -var '%s=...', a -var-file, %s or %s%s.", name, name, AutoVarFile, EnvVarPrefix, name),
				Subject: v.decl.Ptr()})
			val = cty.DynamicVal
		}
		if v.sensitive {
			l.addSensitiveValue(val)
			l.addSensitiveValue(v.def)
			val = val.Mark(sensitiveMark)
			l.marked = true
		}
		if val != cty.NilVal && val.IsWhollyKnown() {
			l.checkValidations(v, val)
		}
		out[name] = val
		l.varUnits[name] = valueUnits(val, MaxValueUnits)
	}
	sort.Slice(l.sensitive, func(i, j int) bool { return len(l.sensitive[i]) > len(l.sensitive[j]) })
	return out
}

// redactArg hides the value part of a malformed -var argument.
func redactArg(arg string) string {
	if len(arg) > 40 {
		return arg[:40] + "..."
	}
	return arg
}

func (l *loader) varFile(path string, decls map[string]*variable, values map[string][]varValue) {
	src, err := os.ReadFile(path)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read variables file",
			Detail: fmt.Sprintf("Cannot read the variables file %s: %s.", path, rootCause(err))})
		return
	}
	l.cfg.Files[path] = src
	f, diags := ParseConfig(src, path)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return
	}
	l.parsed[path] = f
	attrs, diags := f.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	names := slices.Sorted(maps.Keys(decls))
	for _, an := range slices.Sorted(maps.Keys(attrs)) {
		a := attrs[an]
		d, ok := decls[a.Name]
		if !ok {
			l.diags = append(l.diags, warnAt(a.NameRange, "Value for undeclared variable",
				fmt.Sprintf("The variables file sets %q, but no variable of that name is declared; the value is ignored.%s", a.Name, suggestion(a.Name, names)))...)
			continue
		}
		val, diags := a.Expr.Value(nil)
		if d.sensitive && !diags.HasErrors() {
			l.addSensitiveValue(val)
		}
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			val = cty.DynamicVal
		}
		values[a.Name] = append(values[a.Name], varValue{val: val, rng: a.Expr.Range().Ptr(), source: path})
	}
}

// convertVar turns one candidate into a value of the variable's type.
func (l *loader) convertVar(v *variable, c varValue) cty.Value {
	val := c.val
	if c.isRaw {
		if v.typ == cty.String || v.typ == cty.DynamicPseudoType {
			val = cty.StringVal(c.raw)
		} else {
			expr, diags := parseExpression([]byte(c.raw), c.source)
			if !diags.HasErrors() {
				val, diags = expr.Value(nil)
			}
			if diags.HasErrors() {
				l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
					Detail: fmt.Sprintf("The value given by %s for variable %q is not a valid %s: %s.", c.source, v.name, v.typ.FriendlyName(), diags[0].Summary)})
				return cty.DynamicVal
			}
		}
	}
	if !val.IsKnown() {
		return cty.DynamicVal
	}
	cv, err := convert.Convert(val, v.typ)
	if err != nil {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail: fmt.Sprintf("The value given by %s for variable %q does not match its type %s: %s.", c.source, v.name, v.typ.FriendlyName(), err)}
		if c.rng != nil {
			d.Subject = c.rng
		}
		l.diags = append(l.diags, d)
		return cty.DynamicVal
	}
	return cv
}

func (l *loader) checkValidations(v *variable, val cty.Value) {
	ctx := &hcl.EvalContext{
		Functions: l.ctx.Functions,
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.name: val})},
	}
	for _, b := range v.validations {
		content, diags := b.Body.Content(validationSchema)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		cond := content.Attributes["condition"]
		for _, t := range cond.Expr.Variables() {
			if t.RootName() != "var" || len(t) < 2 {
				l.diags = append(l.diags, errAt(t.SourceRange(), "Invalid validation condition", fmt.Sprintf("A validation condition of variable %q may refer only to var.%s.", v.name, v.name))...)
				continue
			}
			if a, ok := t[1].(hcl.TraverseAttr); ok && a.Name != v.name {
				l.diags = append(l.diags, errAt(t.SourceRange(), "Invalid validation condition", fmt.Sprintf("A validation condition of variable %q may refer only to var.%s.", v.name, v.name))...)
			}
		}
		res, diags := cond.Expr.Value(ctx)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		res, _ = res.UnmarkDeep() // whether a secret is valid is no secret
		res, err := convert.Convert(res, cty.Bool)
		if err != nil || res.IsNull() {
			l.diags = append(l.diags, errAt(cond.Expr.Range(), "Invalid validation condition", "The condition must be true or false.")...)
			continue
		}
		if !res.IsKnown() || res.True() {
			continue
		}
		msg := "The value is not valid."
		if m, diags := content.Attributes["error_message"].Expr.Value(ctx); !diags.HasErrors() && isSensitive(m) {
			msg = "The error message is derived from the sensitive value, so it is not shown."
		} else if !diags.HasErrors() && m.Type() == cty.String && m.IsKnown() && !m.IsNull() {
			msg = m.AsString()
		}
		l.diags = append(l.diags, errAt(cond.Expr.Range(), "Invalid value for variable",
			fmt.Sprintf("%s\n\nThis was checked by the validation rule of variable %q.", msg, v.name))...)
	}
}

func (l *loader) addSensitive(s string) {
	if s != "" {
		l.sensitive = append(l.sensitive, s)
	}
}

// addSensitiveValue records every primitive inside v as sensitive.
func (l *loader) addSensitiveValue(v cty.Value) {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return
	}
	switch {
	case v.Type() == cty.String:
		l.addSensitive(v.AsString())
	case v.Type() == cty.Number:
		l.addSensitive(v.AsBigFloat().Text('f', -1))
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			l.addSensitiveValue(e)
		}
	}
}
