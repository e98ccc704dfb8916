package actiontest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
)

// stepFields fills in what a step of an action must carry beyond the
// common fields for the plan file to accept it.
var stepFields = map[plan.Action]func(s *plan.Step){
	plan.AddLearner: func(s *plan.Step) {
		s.MemberID, s.PeerURL, s.Config = 0, "http://m1:2380", []byte("name: m1\n")
	},
	plan.WriteConfig: func(s *plan.Step) { s.Config = []byte("name: m1\n") },
	plan.UploadFile: func(s *plan.Step) {
		s.Uploads = []plan.Upload{{Role: "client-ca", Path: "/etc/etcd/pki/ca.pem", Source: "/tmp/ca.pem", SHA256: "ab", Mode: 0o644}}
	},
	plan.InstallBackupJob: func(s *plan.Step) {
		s.Job = &plan.JobInstall{Remove: []string{"/etc/cron.d/etcdform-backup-lab"}}
	},
	plan.InstallBinary: func(s *plan.Step) {
		s.Uploads = []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: "/tmp/sha256-ab", SHA256: "ab", Mode: 0o755}}
	},
	plan.StageBinary: func(s *plan.Step) {
		s.Uploads = []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: "/tmp/sha256-ab", SHA256: "ab", Mode: 0o755}}
	},
	plan.InstallService: func(s *plan.Step) {
		s.Config = []byte("[Unit]\n")
		s.Target = &plan.Target{Service: plan.Service{Manager: "systemd", Name: "etcd", User: "etcd"}, DataDir: "/var/lib/etcd"}
	},
	plan.FetchBackup: func(s *plan.Step) { s.Member, s.MemberID, s.Backup = "m1", 0, testBackup() },
	plan.RestoreMember: func(s *plan.Step) {
		s.Backup, s.PeerURL, s.Config = testBackup(), "http://m1:2380", []byte("name: m1\n")
		s.Target = &plan.Target{Service: plan.Service{Manager: "systemd", Name: "etcd", User: "etcd"}, DataDir: "/var/lib/etcd"}
	},
	plan.Compact: func(s *plan.Step) { s.Revision = 4711 },
	plan.AddRole: func(s *plan.Step) { s.Member, s.MemberID, s.Auth = "m1", 1, &plan.AuthChange{Role: "app"} },
	plan.GrantPermission: func(s *plan.Step) {
		s.Auth = &plan.AuthChange{Role: "app", Permission: &plan.Permission{Type: "read", Key: "/app/", RangeEnd: "/app0"}}
	},
	plan.RevokePermission: func(s *plan.Step) {
		s.Auth = &plan.AuthChange{Role: "app", Permission: &plan.Permission{Type: "read", Key: "\x00", RangeEnd: "\x00"}}
	},
	plan.AddUser: func(s *plan.Step) {
		s.Auth = &plan.AuthChange{User: "u", Password: &plan.PasswordSource{Env: "U_PW"}}
	},
	plan.GrantRole:  func(s *plan.Step) { s.Auth = &plan.AuthChange{User: "u", Role: "app"} },
	plan.RevokeRole: func(s *plan.Step) { s.Auth = &plan.AuthChange{User: "u", Role: "app"} },
	plan.SetPassword: func(s *plan.Step) {
		s.Auth = &plan.AuthChange{User: "u", Password: &plan.PasswordSource{File: "/run/secrets/u"}}
	},
	plan.EnableAuth:         func(s *plan.Step) { s.Auth = &plan.AuthChange{} },
	plan.DisableAuth:        func(s *plan.Step) { s.Auth = &plan.AuthChange{} },
	plan.DisarmAlarm:        func(s *plan.Step) { s.Alarm, s.Quota = "NOSPACE", 160<<20 },
	plan.DowngradeValidate:  func(s *plan.Step) { s.Version = "3.5.35" },
	plan.DowngradeEnable:    func(s *plan.Step) { s.Version = "3.5.35" },
	plan.WaitClusterVersion: func(s *plan.Step) { s.Version = "3.6.16" },
}

func testBackup() *plan.BackupSnapshot {
	return &plan.BackupSnapshot{Destination: "s3://backups/lab", ID: "lab-20261202T100000Z", Object: "lab-20261202T100000Z.snap.age",
		SHA256: strings.Repeat("ab", 32), Size: 4096, Encrypted: true, Recipient: "age1xyz",
		Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Revision: 40, KeyCount: 12}
}

// TestActionTable walks every row of the actions table and checks that
// its action round-trips through the plan file, renders in the human,
// JSON and Markdown views, has an apply handler and a row in
// docs/plan-json.md. apply.TestActionTableFakeHost runs each through the
// fake hosts.
func TestActionTable(t *testing.T) {
	documented := docActions(t, "../../docs/plan-json.md")
	names, symbols := map[string]bool{}, map[plan.Action]bool{}
	for _, info := range plan.Actions() {
		t.Run(info.Name, func(t *testing.T) {
			if names[info.Name] || symbols[info.Action] {
				t.Fatalf("action %s (%c) is in the table twice", info.Name, info.Action)
			}
			names[info.Name], symbols[info.Action] = true, true
			if info.Name == "" || info.Legend == "" || info.One == "" || info.Many == "" {
				t.Errorf("row %+v lacks a name, legend or counter word", info)
			}
			if !strings.HasSuffix(info.Does, ".") || strings.Contains(info.Does, "m1") {
				t.Errorf("row %s: Does %q is not one sentence about \"the member\" ending in a full stop (the recovery runbook reads it)", info.Name, info.Does)
			}
			if got, ok := plan.ActionNamed(info.Name); !ok || got != info.Action || info.Action.String() != info.Name {
				t.Errorf("ActionNamed(%q) = %c, %v", info.Name, got, ok)
			}
			// Steps that run at the same time touch nothing that runs.
			if info.Concurrent && (info.Before != plan.GateNone || info.After != plan.GateNone || info.Tolerance != plan.ToleranceKept ||
				info.Risky || info.Batch || info.Auth || info.Effect != plan.EffectOther) {
				t.Errorf("row %s is Concurrent, so it must have no gate, keep the fault tolerance, and be neither risky, a batch, an auth change nor an effect on etcd: %+v", info.Name, info)
			}

			s := plan.Step{Action: info.Action, Cluster: "lab", Member: "m1", MemberID: 1, Voters: 3, Tolerated: 1}
			if f := stepFields[info.Action]; f != nil {
				f(&s)
			}
			p := &plan.Plan{Clusters: []string{"lab"}, Steps: []plan.Step{s}}

			// The plan file.
			var buf bytes.Buffer
			if err := planfile.Write(&buf, p); err != nil {
				t.Errorf("plan file: %v", err)
			} else if !regexp.MustCompile(`"action":\s*"` + info.Name + `"`).Match(buf.Bytes()) {
				t.Errorf("the plan file does not name the action %s", info.Name)
			} else if got, err := planfile.Read(&buf); err != nil {
				t.Errorf("plan file: %v", err)
			} else if diff := cmp.Diff(p, got); diff != "" {
				t.Errorf("plan file round trip (-want +got):\n%s", diff)
			}

			// The views.
			human := render(t, views.PlanFormatHuman, p)
			for _, want := range []string{
				fmt.Sprintf("Symbols: %c %s\n", info.Action, info.Legend),
				fmt.Sprintf("  %c  1. %s m1\n", info.Action, info.Name),
				fmt.Sprintf("Plan: 1 %s; 0 refusals.", info.One),
			} {
				if !strings.Contains(human, want) {
					t.Errorf("human view lacks %q:\n%s", want, human)
				}
			}
			var doc struct {
				Summary string
				Steps   []struct{ Action, Symbol string }
			}
			if err := json.Unmarshal([]byte(render(t, views.PlanFormatJSON, p)), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Steps) != 1 || doc.Steps[0].Action != info.Name || doc.Steps[0].Symbol != string(rune(info.Action)) || !strings.Contains(doc.Summary, info.One) {
				t.Errorf("JSON view: %+v", doc)
			}
			md := render(t, views.PlanFormatMarkdown, p)
			for _, want := range []string{
				fmt.Sprintf("| 1 | `%c` | **%s m1**", info.Action, info.Name),
				fmt.Sprintf("**Plan: 1 %s; 0 refusals.**", info.One),
			} {
				if !strings.Contains(md, want) {
					t.Errorf("Markdown view lacks %q:\n%s", want, md)
				}
			}

			// Apply.
			if !apply.HasHandler(info.Action) {
				t.Errorf("apply has no handler for %s: add one to apply's handlers map", info.Name)
			}

			// The documentation.
			if sym, ok := documented[info.Name]; !ok {
				t.Errorf("docs/plan-json.md has no row for %s in its table of actions", info.Name)
			} else if sym != string(rune(info.Action)) {
				t.Errorf("docs/plan-json.md gives %s the symbol %s, the table %c", info.Name, sym, info.Action)
			}
		})
	}
	for name := range documented {
		if _, ok := plan.ActionNamed(name); !ok {
			t.Errorf("docs/plan-json.md documents an action %s that the table does not have", name)
		}
	}
}

func render(t *testing.T, f views.PlanFormat, p *plan.Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := views.NewPlanView(f, false).Plan(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// docActions reads the table of actions in docs/plan-json.md (the rows
// after its "| `action` | `symbol` | ..." header, up to the first line that
// is not a table row): action name -> symbol.
func docActions(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([a-z0-9-]+)` \\| `(.)` \\|")
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "| `action` | `symbol` |"):
			in = true
		case in && !strings.HasPrefix(l, "|"):
			in = false
		case in:
			if m := row.FindStringSubmatch(l); m != nil {
				out[m[1]] = m[2]
			} else if !strings.HasPrefix(l, "|---") {
				t.Errorf("%s: row %q of the table of actions does not read as | `name` | `symbol` |", path, l)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no table of actions found", path)
	}
	return out
}
