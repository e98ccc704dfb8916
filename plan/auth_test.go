package plan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// authBlock is the auth block the planner tests start from: auth on, a
// read-only role on /app/, the root user, etcdform's user and a reader.
func authBlock() *schema.Auth {
	return &schema.Auth{
		Enabled: true,
		Tool:    &schema.AuthTool{User: "etcdform"},
		Roles: []*schema.Role{{Name: "app-read", Permissions: []schema.Permission{
			{Type: "read", Key: "/app/", RangeEnd: "/app0"}}}},
		Users: []*schema.User{
			{Name: "root", Roles: []string{"root"}, Password: schema.PasswordSource{Env: "ROOT_PW"}},
			{Name: "etcdform", Roles: []string{"root"}, Password: schema.PasswordSource{Env: "ETCDFORM_PW"}},
			{Name: "reader", Roles: []string{"app-read"}, Password: schema.PasswordSource{File: "/secrets/reader"}},
		},
	}
}

// inSync is the auth store authBlock declares, every password current.
func inSync() *state.Auth {
	return &state.Auth{Enabled: true,
		Roles: []state.Role{{Name: "app-read", Permissions: []state.Permission{{Type: "read", Key: "/app/", RangeEnd: "/app0"}}}},
		Users: []state.User{
			{Name: "etcdform", Roles: []string{"root"}, PasswordRecord: "a1", PasswordCurrent: true},
			{Name: "reader", Roles: []string{"app-read"}, PasswordRecord: "b2", PasswordCurrent: true},
			{Name: "root", Roles: []string{"root"}, PasswordRecord: "c3", PasswordCurrent: true},
		}}
}

// authSteps renders the plan's auth steps one a line: action, role/user,
// and the changes.
func authSteps(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Auth == nil {
			continue
		}
		line := s.Action.String()
		for _, x := range []string{s.Auth.Role, s.Auth.User} {
			if x != "" {
				line += " " + x
			}
		}
		for _, c := range s.Changes {
			line += fmt.Sprintf(" [%s: %q -> %q]", c.Attr, c.Before, c.After)
		}
		out = append(out, line)
	}
	return out
}

// TestAuthDiff: the planner diffs roles, permissions, users, role bindings,
// passwords and auth on/off, and refuses what would lock etcdform out or
// turn auth off without allow_disable.
func TestAuthDiff(t *testing.T) {
	tests := map[string]struct {
		desired  func(a *schema.Auth)
		observed func(a *state.Auth)
		want     []string
		refusals []string
	}{
		"in sync": {},
		"fresh cluster: everything, auth enable last": {
			observed: func(a *state.Auth) { *a = state.Auth{} },
			want: []string{
				`add-role app-read [role: "" -> "app-read"]`,
				`grant-permission app-read [permission /app/*: "" -> "read"]`,
				`add-user root [user: "" -> "root"] [password: "" -> "(sensitive) from env ROOT_PW"]`,
				`grant-role root root [role: "" -> "root"]`,
				`add-user etcdform [user: "" -> "etcdform"] [password: "" -> "(sensitive) from env ETCDFORM_PW"]`,
				`grant-role root etcdform [role: "" -> "root"]`,
				`add-user reader [user: "" -> "reader"] [password: "" -> "(sensitive) from file /secrets/reader"]`,
				`grant-role app-read reader [role: "" -> "app-read"]`,
				`enable-auth [auth: "disabled" -> "enabled"]`,
			},
		},
		"permission type changed, extra permission revoked": {
			desired: func(a *schema.Auth) { a.Roles[0].Permissions[0].Type = "readwrite" },
			observed: func(a *state.Auth) {
				a.Roles[0].Permissions = append(a.Roles[0].Permissions, state.Permission{Type: "write", Key: "/tmp", RangeEnd: "\x00"})
			},
			want: []string{
				`grant-permission app-read [permission /app/*: "read" -> "readwrite"]`,
				`revoke-permission app-read [permission /tmp..: "write" -> ""]`,
			},
		},
		"roles granted and revoked": {
			observed: func(a *state.Auth) { a.Users[1].Roles = []string{"old"} },
			want:     []string{`grant-role app-read reader [role: "" -> "app-read"]`, `revoke-role old reader [role: "old" -> ""]`},
		},
		"password source changed": {
			observed: func(a *state.Auth) { a.Users[1].PasswordCurrent = false },
			want:     []string{`set-password reader [password: "(sensitive)" -> "(sensitive) from file /secrets/reader"]`},
		},
		"password never set by etcdform": {
			observed: func(a *state.Auth) { a.Users[2].PasswordCurrent, a.Users[2].PasswordRecord = false, "" },
			want:     []string{`set-password root [password: "(not set by etcdform)" -> "(sensitive) from env ROOT_PW"]`},
		},
		"tool password unset: enabling would lock etcdform out": {
			observed: func(a *state.Auth) {
				*a = state.Auth{SourceErrors: map[string]string{"etcdform": "the environment variable ETCDFORM_PW is not set"}}
			},
			want: []string{ // planned for review, but the plan is refused
				`add-role app-read [role: "" -> "app-read"]`,
				`grant-permission app-read [permission /app/*: "" -> "read"]`,
				`add-user root [user: "" -> "root"] [password: "" -> "(sensitive) from env ROOT_PW"]`,
				`grant-role root root [role: "" -> "root"]`,
				`add-user reader [user: "" -> "reader"] [password: "" -> "(sensitive) from file /secrets/reader"]`,
				`grant-role app-read reader [role: "" -> "app-read"]`,
			},
			refusals: []string{"Password source not readable", "Auth would lock etcdform out"},
		},
		"auth off without allow_disable": {
			desired:  func(a *schema.Auth) { a.Enabled = false },
			refusals: []string{"Auth disable not allowed"},
		},
		"auth off with allow_disable": {
			desired: func(a *schema.Auth) { a.Enabled, a.AllowDisable = false, true },
			want:    []string{`disable-auth [auth: "enabled" -> "disabled"]`},
		},
		"auth store unreadable": {
			observed: func(a *state.Auth) { *a = state.Auth{Error: "etcdserver: user name is empty"} },
			refusals: []string{"Auth store not readable"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := testCluster(1, 2, 3)
			c.Auth = authBlock()
			if tc.desired != nil {
				tc.desired(c.Auth)
			}
			oc := observe(c, 1)
			oc.Auth = inSync()
			if tc.observed != nil {
				tc.observed(oc.Auth)
			}
			p := Make(config(c), observed(oc), Options{})
			if diff := cmp.Diff(tc.want, authSteps(p)); diff != "" {
				t.Errorf("auth steps (-want +got):\n%s", diff)
			}
			var refusals []string
			for _, r := range p.Refusals {
				refusals = append(refusals, r.Summary)
				if !strings.Contains(r.Detail, ".") {
					t.Errorf("refusal %q has no detail", r.Summary)
				}
			}
			if diff := cmp.Diff(tc.refusals, refusals); diff != "" {
				t.Errorf("refusals (-want +got):\n%s", diff)
			}
			for _, s := range p.Steps {
				if s.Auth == nil {
					t.Errorf("a non-auth step: %s %s", s.Action, s.Member)
				}
				if s.Action.IsRisky() {
					t.Errorf("risky auth step %s", s.Action)
				}
			}
		})
	}
}

// The fingerprint holds the auth store: a plan goes stale when a role,
// binding, password record or auth's state changes, not when only the
// process's password sources do.
func TestAuthFingerprint(t *testing.T) {
	fp := func(f func(a *state.Auth)) state.Fingerprint {
		oc := observe(testCluster(1, 2, 3), 1)
		oc.Auth = inSync()
		f(oc.Auth)
		return state.FingerprintOf(observed(oc))
	}
	base := fp(func(*state.Auth) {})
	for name, f := range map[string]func(a *state.Auth){
		"enabled":    func(a *state.Auth) { a.Enabled = false },
		"permission": func(a *state.Auth) { a.Roles[0].Permissions[0].Type = "write" },
		"binding":    func(a *state.Auth) { a.Users[0].Roles = nil },
		"password":   func(a *state.Auth) { a.Users[1].PasswordRecord = "other" },
	} {
		if d := state.DiffFingerprint(base, fp(f)); len(d) != 1 || !strings.Contains(d[0], "auth") {
			t.Errorf("%s: diff %v", name, d)
		}
	}
	if d := state.DiffFingerprint(base, fp(func(a *state.Auth) { a.Users[1].PasswordCurrent = false })); d != nil {
		t.Errorf("a source's password alone changed the fingerprint: %v", d)
	}
}

// With auth on, the scheduled backup job has no credentials: the plan
// warns, and refuses the step that would install the job and run it once.
func TestAuthBackupJob(t *testing.T) {
	c := testCluster(1, 2, 3)
	c.Auth = authBlock()
	c.Backup = &schema.Backup{Schedule: "@daily", On: []string{"etcd-1"}, Destination: "file:///var/backups/etcd", AllowUnencrypted: true}
	oc := observe(c, 1)
	oc.Auth = inSync()
	p := Make(config(c), observed(oc), Options{Tool: Tool{Path: "/usr/local/bin/etcdform", SHA256: "ab", Version: "1.0.0"}})
	var warned, refused bool
	for _, w := range p.Warnings {
		warned = warned || w.Summary == "Backup job without credentials"
	}
	for _, r := range p.Refusals {
		refused = refused || (r.Summary == "Backup job cannot authenticate" && r.Step > 0 && p.Steps[r.Step-1].Action == InstallBackupJob)
	}
	if !warned || !refused {
		t.Errorf("warned %v, refused the job's step %v: %+v", warned, refused, p.Refusals)
	}
}
