package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
)

// TestBackupFetcherIdentity: apply of a restore plan needs the identity
// of the backup's recipient, from --identity or the environment, and
// refuses (before any lock) without it or with another one; the identity
// never appears in the error.
func TestBackupFetcherIdentity(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, id *age.X25519Identity) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, bad := write("good.key", id), write("other.key", other)
	restore := &plan.Plan{Steps: []plan.Step{{Action: plan.FetchBackup, Cluster: "lab",
		Backup: &plan.BackupSnapshot{ID: "lab-1", Encrypted: true, Recipient: id.Recipient().String()}}}}
	cfg := &schema.Config{}
	tests := map[string]struct {
		p       *plan.Plan
		file    string
		env     string
		wantErr string // "" means a fetcher (or none, for a plan without a restore)
		none    bool
	}{
		"not a restore":        {p: &plan.Plan{Steps: []plan.Step{{Action: plan.Restart}}}, none: true},
		"no identity":          {p: restore, wantErr: "give the age identity that decrypts it with --identity FILE or " + plan.IdentityEnv},
		"another identity":     {p: restore, file: bad, wantErr: "does not match the recipient " + id.Recipient().String()},
		"from the flag":        {p: restore, file: good},
		"from the environment": {p: restore, env: id.String()},
		"the flag wins":        {p: restore, file: bad, env: id.String(), wantErr: "does not match"},
		"not an identity":      {p: restore, env: "age1notanidentity", wantErr: plan.IdentityEnv + " does not hold an age identity"},
		"a missing file":       {p: restore, file: filepath.Join(dir, "nope"), wantErr: "--identity"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := &Env{Getenv: func(k string) string {
				if k == plan.IdentityEnv {
					return tc.env
				}
				return ""
			}}
			f, err := backupFetcher(env, cfg, tc.p, tc.file)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				for _, s := range []string{id.String(), other.String()} {
					if strings.Contains(err.Error(), s) {
						t.Fatal("the error holds an identity")
					}
				}
			case err != nil:
				t.Fatal(err)
			case tc.none != (f == nil):
				t.Fatalf("fetcher %v, want none: %v", f != nil, tc.none)
			}
		})
	}
}
