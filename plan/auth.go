package plan

// Auth as code: the steps that bring etcd's auth store to the auth block
// (roles and their permissions, users, their roles and passwords, auth on
// or off), and the refusals that keep etcdform from locking itself out.
// Passwords never enter a step: a step names the password's source, and
// the plan shows "(sensitive)".

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Sensitive is what a plan shows in place of a password.
const Sensitive = "(sensitive)"

// authWork emits the auth steps of the cluster: roles and permissions
// first, then users, their passwords and roles, and last the switch of
// auth on or off, so that the switch finds every user it needs.
func (cp *clusterPlanner) authWork() {
	a := cp.c.Auth
	if a == nil {
		return
	}
	oa := cp.oc.Auth
	start := len(cp.body)
	defer func() {
		v, tol := cp.tolerance()
		for i := start; i < len(cp.body); i++ {
			cp.body[i].Voters, cp.body[i].Tolerated = v, tol
		}
	}()
	if oa == nil || oa.Error != "" {
		why := "it was not observed"
		if oa != nil {
			why = oa.Error
		}
		cp.refuse("", 0, "Auth store not readable",
			"etcdform could not read the users and roles of cluster %s: %s. With auth on, etcdform reads them as the user of the auth block's tool block, which needs the role root; check that its password source is set (%s).", cp.c.Name, why, toolSource(a))
		return
	}
	for _, r := range a.Roles {
		cp.roleWork(r, oa.Role(r.Name))
	}
	for _, r := range oa.Roles {
		if r.Name != schema.RootName && a.Role(r.Name) == nil {
			cp.warn("", "Unmanaged role", "The role %s of cluster %s is not declared in its auth block; etcdform leaves it alone. Declare it to manage it, or delete it by hand (etcdctl role delete).", r.Name, cp.c.Name)
		}
	}
	for _, u := range a.Users {
		cp.userWork(u, oa.User(u.Name))
	}
	for _, u := range oa.Users {
		if a.User(u.Name) == nil {
			cp.warn("", "Unmanaged user", "The user %s of cluster %s is not declared in its auth block; etcdform leaves it alone. Declare it to manage it, or delete it by hand (etcdctl user delete).", u.Name, cp.c.Name)
		}
	}
	switch {
	case a.Enabled && !oa.Enabled:
		if !cp.toolCanAuthenticate(a, oa) {
			return
		}
		cp.emit(Step{Action: EnableAuth, Cluster: cp.c.Name, Auth: &AuthChange{},
			Reason:  "the auth block has enabled = true: every request needs credentials from now on (checked first: etcdform's own credentials will work)",
			Changes: []Change{{Attr: "auth", Before: "disabled", After: "enabled"}}}, false)
	case !a.Enabled && oa.Enabled && !a.AllowDisable:
		cp.refuse("", 0, "Auth disable not allowed",
			"The auth block of cluster %s has enabled = false, but auth is on: turning it off lets every client read and write every key. Set allow_disable = true in the auth block to do it, or set enabled = true to keep auth on.", cp.c.Name)
	case !a.Enabled && oa.Enabled:
		cp.emit(Step{Action: DisableAuth, Cluster: cp.c.Name, Auth: &AuthChange{},
			Reason:  "the auth block has enabled = false and allow_disable = true",
			Changes: []Change{{Attr: "auth", Before: "enabled", After: "disabled"}}}, false)
	}
}

// authBackupCheck: with auth on, the scheduled backup job on the hosts
// connects without credentials and cannot take a snapshot (etcd allows it
// only to root). Warn; and refuse a step that would run the job once after
// installing it, which would fail the apply.
func (cp *clusterPlanner) authBackupCheck() {
	a := cp.c.Auth
	if a == nil || !a.Enabled || cp.c.Backup == nil {
		return
	}
	cp.warn("", "Backup job without credentials",
		"Cluster %s has auth enabled and a backup block, but the scheduled backup job on the hosts (%v) connects without credentials, and etcd lets only the role root take a snapshot: the job will fail. etcdform's own `backup run` and apply's pre-change snapshot use the tool credentials and work. See docs/auth.md.", cp.c.Name, cp.c.Backup.On)
	for i, s := range cp.steps {
		if s.Action == InstallBackupJob && s.Job != nil && s.Job.Run {
			cp.refuse(s.Member, i+1, "Backup job cannot authenticate",
				"This step installs the backup job on %s and runs it once, but with auth enabled the job, which has no credentials, cannot take a snapshot, and the apply would stop there. Remove the backup block (and take backups with `etcdform backup run` where etcdform runs), or leave auth off until the job can authenticate.", s.Member)
		}
	}
}

// toolSource names where etcdform's own credentials come from.
func toolSource(a *schema.Auth) string {
	switch {
	case a.Tool == nil:
		return "no tool block"
	case a.Tool.ClientCert:
		return "the common name of the tool's client certificate"
	}
	if u := a.User(a.Tool.User); u != nil {
		return fmt.Sprintf("user %s, password from %s", u.Name, u.Password)
	}
	return "user " + a.Tool.User
}

// toolCanAuthenticate checks, before auth is switched on, that etcdform
// will still get in afterwards; it refuses the plan (with the way out) and
// returns false when it would not.
func (cp *clusterPlanner) toolCanAuthenticate(a *schema.Auth, oa *state.Auth) bool {
	t := a.Tool
	if t == nil { // the schema refuses this; keep the planner safe alone
		cp.refuse("", 0, "Auth would lock etcdform out", "The auth block of cluster %s enables auth without a tool block: add one.", cp.c.Name)
		return false
	}
	if t.ClientCert {
		cn := toolCertCN(cp.oc.ToolCert)
		u := a.User(cn)
		switch {
		case cn == "":
			cp.refuse("", 0, "Auth would lock etcdform out",
				"The tool block of cluster %s authenticates by the client certificate's common name, but etcdform has no client certificate with one (tls.tool cert_file or ETCDFORM_ETCD_CERT). Give it one, or authenticate with tool { user = ... }.", cp.c.Name)
			return false
		case u == nil || !slices.Contains(u.Roles, schema.RootName):
			cp.refuse("", 0, "Auth would lock etcdform out",
				"etcdform's client certificate has the common name %q, which is not a declared user holding the role root in cluster %s: once auth is on, etcd would let it do nothing. Declare user %q { roles = [\"root\"]  no_password = true }.", cn, cp.c.Name, cn)
			return false
		}
		return true
	}
	u := a.User(t.User)
	if u == nil {
		return false // the schema reported it
	}
	if why, bad := oa.SourceErrors[u.Name]; bad {
		cp.refuse("", 0, "Auth would lock etcdform out",
			"etcdform authenticates to cluster %s as %s, but its password source cannot be read: %s. Once auth is on etcdform could not get in: set it (%s) and plan again.", cp.c.Name, u.Name, why, u.Password)
		return false
	}
	return true
}

// toolCertCN is the common name of the tool's client certificate, or "".
func toolCertCN(ci *state.CertInfo) string {
	if ci == nil || len(ci.DER) == 0 {
		return ""
	}
	cert, err := x509.ParseCertificate(ci.DER[0])
	if err != nil {
		return ""
	}
	return cert.Subject.CommonName
}

// roleWork adds a declared role that is missing, grants the permissions it
// lacks or holds with another type, and revokes those it holds beyond the
// declared ones.
func (cp *clusterPlanner) roleWork(r *schema.Role, or *state.Role) {
	if or == nil {
		cp.emit(Step{Action: AddRole, Cluster: cp.c.Name, Auth: &AuthChange{Role: r.Name},
			Reason: "declared in the auth block", Changes: []Change{{Attr: "role", After: r.Name}}}, false)
		or = &state.Role{Name: r.Name}
	}
	for _, p := range r.Permissions {
		before := ""
		for _, op := range or.Permissions {
			if op.Key == p.Key && op.RangeEnd == p.RangeEnd {
				before = op.Type
			}
		}
		if before == p.Type {
			continue
		}
		cp.emit(Step{Action: GrantPermission, Cluster: cp.c.Name,
			Auth:    &AuthChange{Role: r.Name, Permission: &Permission{Type: p.Type, Key: p.Key, RangeEnd: p.RangeEnd}},
			Reason:  "declared in role " + r.Name,
			Changes: []Change{{Attr: "permission " + RangeText(p.Key, p.RangeEnd), Before: before, After: p.Type}}}, false)
	}
	for _, op := range or.Permissions {
		declared := false
		for _, p := range r.Permissions {
			declared = declared || (op.Key == p.Key && op.RangeEnd == p.RangeEnd)
		}
		if declared {
			continue
		}
		cp.emit(Step{Action: RevokePermission, Cluster: cp.c.Name,
			Auth:    &AuthChange{Role: r.Name, Permission: &Permission{Type: op.Type, Key: op.Key, RangeEnd: op.RangeEnd}},
			Reason:  "not declared in role " + r.Name,
			Changes: []Change{{Attr: "permission " + RangeText(op.Key, op.RangeEnd), Before: op.Type}}}, false)
	}
}

// userWork adds a declared user that is missing (with its password), sets
// the password when its source holds another than the one etcdform set,
// and grants and revokes roles to match.
func (cp *clusterPlanner) userWork(u *schema.User, ou *state.User) {
	src := passwordSource(u.Password)
	srcErr, unreadable := cp.oc.Auth.SourceErrors[u.Name]
	if ou == nil && unreadable {
		cp.refuse("", 0, "Password source not readable",
			"The user %s of cluster %s is to be added with the password from %s, which cannot be read: %s. Set it and plan again.", u.Name, cp.c.Name, src, srcErr)
		return
	}
	if ou == nil {
		ac := &AuthChange{User: u.Name, Password: src, NoPassword: u.Password.None}
		ch := []Change{{Attr: "user", After: u.Name}}
		if src != nil {
			ch = append(ch, Change{Attr: "password", After: Sensitive + " from " + src.String()})
		}
		cp.emit(Step{Action: AddUser, Cluster: cp.c.Name, Auth: ac, Reason: "declared in the auth block", Changes: ch}, false)
		ou = &state.User{Name: u.Name, PasswordCurrent: true}
	}
	if src != nil && !ou.PasswordCurrent {
		switch {
		case unreadable:
			cp.refuse("", 0, "Password source not readable",
				"The password of user %s of cluster %s comes from %s, which cannot be read: %s. Set it and plan again.", u.Name, cp.c.Name, src, srcErr)
		default:
			why := "the password its source holds is not the user's (the source changed, or the password was changed by hand)"
			before := Sensitive
			if ou.PasswordRecord == "" {
				why, before = "etcdform has not set this user's password before", "(not set by etcdform)"
			}
			cp.emit(Step{Action: SetPassword, Cluster: cp.c.Name, Auth: &AuthChange{User: u.Name, Password: src},
				Reason:  why,
				Changes: []Change{{Attr: "password", Before: before, After: Sensitive + " from " + src.String()}}}, false)
		}
	}
	for _, r := range u.Roles {
		if !slices.Contains(ou.Roles, r) {
			cp.emit(Step{Action: GrantRole, Cluster: cp.c.Name, Auth: &AuthChange{User: u.Name, Role: r},
				Reason: "declared in user " + u.Name, Changes: []Change{{Attr: "role", After: r}}}, false)
		}
	}
	for _, r := range ou.Roles {
		if !slices.Contains(u.Roles, r) {
			cp.emit(Step{Action: RevokeRole, Cluster: cp.c.Name, Auth: &AuthChange{User: u.Name, Role: r},
				Reason: "not declared in user " + u.Name, Changes: []Change{{Attr: "role", Before: r}}}, false)
		}
	}
}

func passwordSource(p schema.PasswordSource) *PasswordSource {
	if p.None {
		return nil
	}
	return &PasswordSource{Env: p.Env, File: p.File}
}

// RangeText shows a permission's key range: "/app/*" for a prefix,
// "[/a, /b)" for a range, "/a.." for every key from /a, "*" for every key,
// "/k" for one key; keys are quoted when they hold spaces or quotes.
func RangeText(key, end string) string {
	q := func(s string) string {
		if s == "" || strconv.Quote(s) != `"`+s+`"` || strings.ContainsAny(s, " \"'[](),*") {
			return strconv.Quote(s)
		}
		return s
	}
	switch {
	case key == "\x00" && end == "\x00":
		return "*"
	case end == "":
		return q(key)
	case end == "\x00":
		return q(key) + ".."
	case end == schema.PrefixEnd(key):
		return q(key) + "*"
	}
	return "[" + q(key) + ", " + q(end) + ")"
}
