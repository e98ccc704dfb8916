package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCommands: the README's first commands are make demo and make
// test, without sudo (a fresh Debian machine run as root has none), and
// the Makefile runs the goals that need root through sudo only when it
// is not root (issue 13 #11).
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	first := regexp.MustCompile("(?s)```sh\n(.*?)```").FindSubmatch(readme)
	if first == nil {
		t.Fatal("README.md has no sh block")
	}
	var cmds []string
	for _, line := range strings.Split(strings.TrimSpace(string(first[1])), "\n") {
		cmds = append(cmds, strings.TrimSpace(strings.SplitN(line, "#", 2)[0]))
	}
	if got, want := strings.Join(cmds, "; "), "make demo; make test"; got != want {
		t.Errorf("README's first commands: %q, want %q", got, want)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make:", err)
	}
	dryRun := func(goal, uid string) string {
		t.Helper()
		out, err := exec.Command("make", "-n", "-C", "../..", goal, "USER_ID="+uid).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s USER_ID=%s: %v\n%s", goal, uid, err, out)
		}
		return string(out)
	}
	for _, goal := range []string{"demo", "test"} {
		asRoot, asUser := dryRun(goal, "0"), dryRun(goal, "1000")
		if strings.Contains(asRoot, "sudo") || !strings.Contains(asRoot, "install-deps.sh") {
			t.Errorf("make %s as root should run directly, without sudo:\n%s", goal, asRoot)
		}
		if !strings.Contains(asUser, `sudo env "PATH=$PATH"`) || !strings.Contains(asUser, "USER_ID=0 "+goal) ||
			strings.Contains(asUser, "install-deps.sh") {
			t.Errorf("make %s as a user should run itself again through sudo, and nothing else:\n%s", goal, asUser)
		}
	}
	for _, goal := range []string{"build", "test-short"} {
		if out := dryRun(goal, "1000"); strings.Contains(out, "sudo") {
			t.Errorf("make %s needs no root, but goes through sudo:\n%s", goal, out)
		}
	}
}
