package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestBackupRunWithoutMember: without --member and without backup.on,
// backup run names the members to choose from instead of `no member ""`
// (issue 13 #11).
func TestBackupRunWithoutMember(t *testing.T) {
	dir := configDir(t, twoMembers)
	dest := "file://" + filepath.Join(t.TempDir(), "backups")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no member":      {[]string{"backup", "run", "--allow-unencrypted", "--destination", dest, dir}, "cluster c has no backup.on to take the member from: give --member (one of etcd-1, etcd-2) or --endpoint"},
		"unknown member": {[]string{"backup", "run", "--allow-unencrypted", "--member", "etcd-9", "--destination", dest, dir}, `cluster c has no member "etcd-9"; its members are etcd-1, etcd-2`},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			if code != 1 || !strings.Contains(stderr, "Error: backup run: "+tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
		})
	}
}

// TestBackupRunRecipientIsIdentity: an age identity passed as --recipient
// is recognised as a secret, refused with a hint, and never echoed (issue
// 13 #11).
func TestBackupRunRecipientIsIdentity(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	secret := id.String()
	dest := "file://" + filepath.Join(t.TempDir(), "backups")
	for _, recipient := range []string{secret, strings.ToLower(secret), " " + secret + "\n"} {
		stdout, stderr, code := run(t, "backup", "run", "--recipient", recipient, "--destination", dest,
			"--endpoint", "http://127.0.0.1:9", "--cluster", "c")
		if code != 1 || !strings.Contains(stderr, "age identity") || !strings.Contains(stderr, "public key") {
			t.Errorf("exit %d, stderr %q; want 1 and a hint that it is an identity", code, stderr)
		}
		secretPart := strings.TrimPrefix(secret, "AGE-SECRET-KEY-1")
		if all := strings.ToUpper(stdout + stderr); strings.Contains(all, secretPart[:20]) {
			t.Errorf("the identity was echoed:\n%s%s", stdout, stderr)
		}
	}
	if _, err := os.Stat(strings.TrimPrefix(dest, "file://")); err == nil {
		t.Errorf("the refused run wrote to its destination")
	}
}
