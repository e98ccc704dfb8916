package command

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/lab"
)

// flagLine is a flag's line in a usage message: the flag and at most one
// placeholder word. Go's flag package takes the back-quoted word of a usage
// string as the placeholder, so a back-quoted phrase ("`etcdform apply
// FILE`") made "-out etcdform apply FILE" (issue 13 #11).
var flagLine = regexp.MustCompile(`^  -[a-z0-9-]+( [A-Za-z_=]+)?$`)

// TestHelp walks every command's and subcommand's -h: exit 0, the usage on
// stdout, nothing on stderr, and no mangled placeholder.
func TestHelp(t *testing.T) {
	subcommands := map[string][]string{
		"backup": {"run", "list", "verify"},
		"lab":    {"up", "status", "fault", "down"},
	}
	var invocations [][]string
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, h := range []string{"-h", "--help"} {
			invocations = append(invocations, []string{n, h})
		}
		for _, sub := range subcommands[n] {
			invocations = append(invocations, []string{n, sub, "-h"})
		}
	}
	for _, args := range invocations {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, code := run(t, args...)
			if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "Usage: etcdform "+args[0]) {
				t.Fatalf("exit %d, stderr %q, stdout %q; want 0 and the usage on stdout", code, stderr, stdout)
			}
			for _, sub := range subcommands[args[0]] {
				if len(args) == 2 && !strings.Contains(stdout, sub) {
					t.Errorf("help does not list the subcommand %s:\n%s", sub, stdout)
				}
			}
			for _, line := range strings.Split(stdout, "\n") {
				if strings.HasPrefix(line, "  -") && !flagLine.MatchString(line) {
					t.Errorf("mangled flag line %q", line)
				}
			}
		})
	}
	stdout, _, code := run(t, "lab", "fault", "-h")
	for _, kind := range lab.FaultKinds {
		if code != 0 || !strings.Contains(stdout, "  "+kind+" ") {
			t.Errorf("lab fault -h does not list the fault %s:\n%s", kind, stdout)
		}
	}
}
