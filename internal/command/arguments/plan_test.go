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

// TestOnly: --only takes a selection of plan.Selections on plan and
// apply; anything else is a flag error that lists the valid ones.
func TestOnly(t *testing.T) {
	tests := map[string]struct {
		args     []string
		want     string
		wantErrs []string
	}{
		"plan maintenance":  {args: []string{"plan", "--only", "maintenance"}, want: "maintenance"},
		"plan equals":       {args: []string{"plan", "--only=maintenance", "dir"}, want: "maintenance"},
		"plan none":         {args: []string{"plan"}, want: ""},
		"apply maintenance": {args: []string{"apply", "--only", "maintenance"}, want: "maintenance"},
		"apply none":        {args: []string{"apply"}, want: ""},
		"plan unknown": {args: []string{"plan", "--only", "config"},
			wantErrs: []string{"plan:", "flag -only", `unknown selection "config"`, "valid: maintenance"}},
		"apply unknown": {args: []string{"apply", "--only", "Maintenance"},
			wantErrs: []string{"apply:", `unknown selection "Maintenance"`, "valid: maintenance"}},
		"plan empty": {args: []string{"plan", "--only="},
			wantErrs: []string{`unknown selection ""`, "valid: maintenance"}},
		"plan missing value": {args: []string{"plan", "--only"},
			wantErrs: []string{"flag needs an argument", "-only"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var (
				got string
				err error
			)
			if tt.args[0] == "plan" {
				var p *Plan
				p, _, err = ParsePlan(tt.args[1:])
				got = p.Only
			} else {
				var a *Apply
				a, _, err = ParseApply(append(tt.args[1:], "x.plan"))
				got = a.Only
			}
			if tt.wantErrs == nil {
				if err != nil || got != tt.want {
					t.Errorf("Only = %q, err %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, Only = %q", got)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
