package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretLeak returns the first substring of at least four bytes of secret
// found in out, or "".
func secretLeak(out, secret string) string {
	for i := 0; i+4 <= len(secret); i++ {
		if strings.Contains(out, secret[i:i+4]) {
			return secret[i : i+4]
		}
	}
	return ""
}

// TestSensitiveDerivedValuesHidden: a value derived from a sensitive
// variable, through functions, operators, conditionals, for expressions,
// indexes, templates and locals, appears nowhere in validate's output,
// human or JSON, not even in part: no four bytes of the secret in a row.
// Each case must fail, and say why (want).
func TestSensitiveDerivedValuesHidden(t *testing.T) {
	const secret = "Zq7Xk2:Wv9Vj3-Qm4Tp8_Lr"
	const refused = "Sensitive value in setting"
	tests := map[string]struct {
		decl string // the variable block, when not the plain one
		top  string // extra top-level blocks
		attr string // a line in the cluster block
		want string
	}{
		"split index":        {attr: `etcd_version = split(":", var.token)[1]`, want: refused},
		"replace":            {attr: `etcd_version = replace(var.token, "-", ".")`, want: refused},
		"format":             {attr: `etcd_version = format("v%s", var.token)`, want: refused},
		"formatlist":         {attr: `etcd_version = formatlist("%s", [var.token])[0]`, want: refused},
		"join":               {attr: `etcd_version = join(".", [var.token, "1"])`, want: refused},
		"upper":              {attr: `etcd_version = upper(var.token)`, want: refused},
		"lower trimspace":    {attr: `etcd_version = lower(trimspace(var.token))`, want: refused},
		"coalesce":           {attr: `etcd_version = coalesce("", var.token)`, want: refused},
		"concat":             {attr: `etcd_version = concat(["a"], split(":", var.token))[2]`, want: refused},
		"map index":          {attr: `etcd_version = {a = var.token}["a"]`, want: refused},
		"tostring":           {attr: `etcd_version = tostring(var.token)`, want: refused},
		"template":           {attr: `etcd_version = "v${var.token}"`, want: refused},
		"template directive": {attr: `etcd_version = "%{ if var.token != "" }${var.token}%{ endif }"`, want: refused},
		"heredoc":            {attr: "etcd_version = <<EOT\n${var.token}\nEOT", want: refused},
		"conditional":        {attr: `etcd_version = var.token == "" ? "3.6.0" : var.token`, want: refused},
		"condition only":     {attr: `etcd_version = length(var.token) > 3 ? "x" : "y"`, want: refused},
		"for expression":     {attr: `etcd_version = [for p in split(":", var.token) : upper(p)][1]`, want: refused},
		"for expression map": {attr: `etcd_version = {for p in split(":", var.token) : p => p}["nope"]`, want: "Invalid index"},
		"try":                {attr: `etcd_version = try(split(":", var.token)[1], "x")`, want: refused},
		"local":              {top: "locals {\n  parts = split(\":\", var.token)\n  v = local.parts[1]\n}", attr: `etcd_version = local.v`, want: refused},
		"list setting":       {attr: "backup {\n    schedule = \"@daily\"\n    on = split(\":\", var.token)\n    destination = \"file:///b\"\n    allow_unencrypted = true\n  }", want: refused},
		"number setting":     {attr: `fault_tolerance = length(var.token)`, want: refused},
		"tonumber error":     {attr: `fault_tolerance = tonumber(split(":", var.token)[1])`, want: "its message, which could quote"},
		"cidrhost error":     {attr: `etcd_version = cidrhost(var.token, 1)`, want: "its message, which could quote"},
		"file error":         {attr: `etcd_version = file(split(":", var.token)[1])`, want: "its message, which could quote"},
		"operator error":     {attr: `fault_tolerance = var.token + 1`, want: "Invalid operand"},
		"validation message": {decl: "variable \"token\" {\n  type = string\n  sensitive = true\n  validation {\n    condition = length(var.token) < 5\n    error_message = \"Too long: ${split(\":\", var.token)[1]}.\"\n  }\n}", attr: `allow_even = false`, want: "derived from the sensitive value"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.decl == "" {
				tc.decl = "variable \"token\" {\n  type      = string\n  sensitive = true\n}"
			}
			src := tc.decl + "\n" + tc.top + "\n" +
				"cluster \"c\" {\n  connection {\n    agent = true\n  }\n  " + tc.attr + "\n  member \"etcd-1\" {\n    host = \"10.0.0.11\"\n  }\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			varFile := filepath.Join(dir, "secret.vars")
			if err := os.WriteFile(varFile, []byte("token = \""+secret+"\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, run := range []struct {
				args []string
				env  map[string]string
			}{
				{args: []string{"validate", "--var", "token=" + secret, dir}},
				{args: []string{"validate", "--json", "--var", "token=" + secret, dir}},
				{args: []string{"validate", "--var-file", varFile, dir}},
				{args: []string{"validate", dir}, env: map[string]string{"ETCDFORM_VAR_token": secret}},
			} {
				code, out, errOut := runCmd(t, run.env, run.args...)
				all := out + errOut
				if code != 1 || !strings.Contains(all, tc.want) {
					t.Errorf("%v: exit %d, want 1 and %q in:\n%s", run.args, code, tc.want, all)
				}
				if leak := secretLeak(all, secret); leak != "" {
					t.Errorf("%v: %q of the secret is in the output:\n%s", run.args, leak, all)
				}
			}
		})
	}
}
