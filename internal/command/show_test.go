package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/plan/plantest"
)

func TestShow(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "plan.json")
	if err := planfile.WriteFile(good, plantest.Sample()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, bytes.Replace(data, []byte(`etcd-4`), []byte(`etcd-9`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args    []string
		tty     bool
		noColor string
		code    int
		stdout  []string // substrings
		stderr  string
	}{
		"human":             {args: []string{"show", good}, stdout: []string{"Cluster lab: 11 steps", "Plan: 2 snapshots", "          -quota-backend-bytes: 2147483648\n          +quota-backend-bytes: 4294967296\n"}},
		"human on a tty":    {args: []string{"show", good}, tty: true, stdout: []string{"\x1b["}},
		"NO_COLOR on a tty": {args: []string{"show", good}, tty: true, noColor: "1", stdout: []string{"Plan: 2 snapshots"}},
		"json":              {args: []string{"show", "--json", good}, stdout: []string{`"format_version": "` + views.PlanJSONVersion + `"`, `"config_observed": `}},
		"markdown":          {args: []string{"show", "--markdown", good}, stdout: []string{views.PlanMarkerLine + "\n"}},
		"both formats":      {args: []string{"show", "--json", "--markdown", good}, code: 1, stderr: "exclude each other"},
		"no file":           {args: []string{"show"}, code: 1, stderr: "a plan FILE is required"},
		"unknown flag":      {args: []string{"show", "--yaml", good}, code: 1, stderr: "flag provided but not defined"},
		"missing file":      {args: []string{"show", filepath.Join(dir, "absent")}, code: 1, stderr: "no such file"},
		"tampered file":     {args: []string{"show", bad}, code: 1, stderr: "plan file is corrupted or was modified"},
		"help":              {args: []string{"show", "-h"}, stdout: []string{"Usage: etcdform show"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := &Env{Stdout: &stdout, Stderr: &stderr, StdoutTTY: tc.tty, Getenv: func(k string) string {
				if k == "NO_COLOR" {
					return tc.noColor
				}
				return ""
			}}
			code := RunEnv(context.Background(), env, tc.args)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			if tc.stderr != "" && !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
			if tc.code == 0 && stderr.Len() > 0 {
				t.Errorf("unexpected stderr:\n%s", stderr.String())
			}
			if tc.noColor != "" || !tc.tty {
				if strings.Contains(stdout.String(), "\x1b[") {
					t.Error("colour codes without a TTY or with NO_COLOR")
				}
			}
		})
	}
}
