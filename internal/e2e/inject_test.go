package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestInjectionRefused: the reported root command injection (issue 13 #1).
// A newline in the backup destination once became a line of the cron.d
// file, which cron ran as root. validate, plan and apply now refuse the
// configuration, name the attribute's line and the character, and nothing
// reaches the host or the plan file.
func TestInjectionRefused(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 1})
	h := st.Members()[0]
	cases := map[string]string{
		"destination": `    destination       = "file:///var/backups/x\n* * * * * root touch /tmp/pwned #"
`,
		"s3 region": `    destination       = "s3://backups/etcd"
    s3 {
      region = "us-east-1\n* * * * * root touch /tmp/pwned #"
    }
`,
		"s3 endpoint": `    destination       = "s3://backups/etcd"
    s3 {
      endpoint = "http://10.0.0.1:9000\n* * * * * root touch /tmp/pwned #"
    }
`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			dir := config(t, st, withBackup(`  backup {
    schedule          = "@daily"
    on                = ["etcd-1"]
    allow_unencrypted = true
`+body+`  }
`))
			src, err := os.ReadFile(filepath.Join(dir, "main.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			line := 0
			for i, l := range strings.Split(string(src), "\n") {
				if strings.Contains(l, "pwned") {
					line = i + 1
				}
			}
			where := "main.hcl line " + strconv.Itoa(line)

			_, stderr, code := cli(t, "validate", dir)
			if code == 0 || !strings.Contains(stderr, "newline (U+000A)") || !strings.Contains(stderr, where) {
				t.Errorf("validate: exit %d, want non-zero with the newline at %s:\n%s", code, where, stderr)
			}
			out := filepath.Join(t.TempDir(), "plan.json")
			_, stderr, code = cli(t, "plan", "--out", out, dir)
			if code == 0 || !strings.Contains(stderr, "newline (U+000A)") {
				t.Errorf("plan: exit %d, want non-zero naming the newline:\n%s", code, stderr)
			}
			if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("plan --out wrote %s (%v)", out, err)
			}
			if _, _, code = cli(t, "apply", "--auto-approve", dir); code == 0 {
				t.Error("apply: exit 0")
			}
			if out, err := labtest.SSH(st, h, "ls /etc/cron.d /etc/systemd/system 2>/dev/null; test ! -e "+backupjob.CronPath(lab.ClusterName)); err != nil {
				t.Errorf("the job file is on the host: %v\n%s", err, out)
			}
		})
	}
}
