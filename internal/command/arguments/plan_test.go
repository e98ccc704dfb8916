package arguments

import (
	"flag"
	"strings"
	"testing"
)

// TestTimeoutsMustBePositive: a zero or negative bound is a flag error
// naming the flag (issue 13 #10: plan --timeout 0 was accepted).
func TestTimeoutsMustBePositive(t *testing.T) {
	parsers := map[string]func([]string) (*flag.FlagSet, error){
		"plan": func(a []string) (*flag.FlagSet, error) { _, fs, err := ParsePlan(a); return fs, err },
		"apply": func(a []string) (*flag.FlagSet, error) {
			_, fs, err := ParseApply(append(a, "x.plan"))
			return fs, err
		},
		"backup run":    func(a []string) (*flag.FlagSet, error) { _, fs, err := ParseBackupRun(a); return fs, err },
		"backup verify": func(a []string) (*flag.FlagSet, error) { _, fs, err := ParseBackupVerify(a); return fs, err },
	}
	tests := map[string]struct {
		cmd, flag, value string
	}{
		"plan zero":              {"plan", "timeout", "0"},
		"plan negative":          {"plan", "timeout", "-5s"},
		"apply lock":             {"apply", "lock-timeout", "0s"},
		"apply step":             {"apply", "step-timeout", "-1m"},
		"backup run zero":        {"backup run", "timeout", "0"},
		"backup verify negative": {"backup verify", "timeout", "-1h"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parsers[tt.cmd]([]string{"--" + tt.flag, tt.value})
			if err == nil || !strings.Contains(err.Error(), "--"+tt.flag+" must be a positive duration") {
				t.Errorf("%s --%s %s: %v, want a positive-duration error", tt.cmd, tt.flag, tt.value, err)
			}
		})
	}
	if _, _, err := ParsePlan([]string{"--timeout", "1s"}); err != nil {
		t.Errorf("plan --timeout 1s: %v", err)
	}
}
