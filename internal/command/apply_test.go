package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.plan")
	if err := os.WriteFile(garbage, []byte(`{"format_version": 1, "payload": "tampered"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args       []string
		wantStderr string
	}{
		// The file is read and checked before apply asks (issue 13 #11).
		"no terminal, no auto-approve, not a plan": {[]string{"apply", garbage}, "garbage.plan: planfile:"},
		"no target":               {[]string{"apply", "--auto-approve"}, "expected one PLANFILE or PATH"},
		"missing plan file":       {[]string{"apply", "--auto-approve", filepath.Join(dir, "nope.plan")}, "no such file"},
		"corrupted plan file":     {[]string{"apply", "--auto-approve", garbage}, "garbage.plan"},
		"bad timeout":             {[]string{"apply", "--auto-approve", "--lock-timeout", "0s", garbage}, "--lock-timeout must be a positive duration"},
		"plan: json and markdown": {[]string{"plan", "--json", "--markdown"}, "cannot be combined"},
		"plan: bad config path":   {[]string{"plan", filepath.Join(dir, "missing")}, "Cannot read configuration"},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantStderr)
			}
		})
	}
}
