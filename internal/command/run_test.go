package command

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = RunEnv(context.Background(), &Env{Stdout: &out, Stderr: &errb}, args)
	return out.String(), errb.String(), code
}

func TestRunUsageAndErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		"no command":      {nil, 1, "", "Usage: etcdform <command>"},
		"unknown command": {[]string{"frobnicate"}, 1, "", `unknown command "frobnicate"`},
		"help":            {[]string{"--help"}, 0, "Commands:", ""},
		"version":         {[]string{"version"}, 0, "etcd client v3.", ""},
		"version json":    {[]string{"version", "--json"}, 0, `"etcd_client": "v3.`, ""},
		"unknown flag":    {[]string{"version", "--bogus"}, 1, "", "flag provided but not defined: -bogus"},
		"version arg":     {[]string{"version", "extra"}, 1, "", `unexpected argument "extra"`},
		"lab no sub":      {[]string{"lab"}, 1, "", "missing subcommand"},
		"lab bad sub":     {[]string{"lab", "explode"}, 1, "", `unknown subcommand "explode"`},
		"lab bad fault":   {[]string{"lab", "fault", "melt", "etcd-1"}, 1, "", `unknown fault "melt"`},
		"lab fault arity": {[]string{"lab", "fault", "kill"}, 1, "", "want KIND MEMBER"},
		"lab up bad flag": {[]string{"lab", "up", "--nodes", "3"}, 1, "", "flag provided but not defined: -nodes"},
		"lab status none": {[]string{"lab", "status", "--dir", "/nonexistent/lab"}, 1, "", "no lab in this directory"},
		"lab help":        {[]string{"lab", "--help"}, 0, "down ", ""},
		"show no file":    {[]string{"show", "/nonexistent/x.plan"}, 1, "", "no such file"},
		"fmt no path":     {[]string{"fmt", "/nonexistent/dir"}, 1, "", "no such file"},
		"backup no sub":   {[]string{"backup"}, 1, "", "missing subcommand"},
		"backup bad sub":  {[]string{"backup", "explode"}, 1, "", `unknown subcommand "explode"`},
		"backup list":     {[]string{"backup", "list", "/nonexistent/dir"}, 1, "", "nonexistent"},
		"plan bad flag":   {[]string{"plan", "--bogus"}, 1, "", "-bogus"},
	} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantStderr)
			}
			// One convention for errors (issue 13 #11): "Error: ".
			if tc.code != 0 && !strings.HasPrefix(stderr, "Error: ") {
				t.Errorf("stderr does not start with \"Error: \": %q", stderr)
			}
		})
	}
}
