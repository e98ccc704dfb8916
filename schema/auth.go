package schema

// Decoding the auth block: whether auth is on, how etcdform authenticates,
// the roles with their key ranges and the users with their roles and
// password sources.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var (
	authSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "enabled", Required: true}, {Name: "allow_disable"}},
		Blocks: []hcl.BlockHeaderSchema{{Type: "tool"},
			{Type: "role", LabelNames: []string{"name"}}, {Type: "user", LabelNames: []string{"name"}}},
	}
	authToolSchema   = &hcl.BodySchema{Attributes: attrs("user", "client_cert")}
	roleSchema       = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "permission"}}}
	permissionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "type", Required: true}, {Name: "key", Required: true},
		{Name: "prefix"}, {Name: "range_end"}, {Name: "from_key"}}}
	userSchema = &hcl.BodySchema{Attributes: attrs("roles", "password_env", "password_file", "no_password")}
)

// MaxAuthNameLen bounds user and role names.
const MaxAuthNameLen = 128

// auth decodes the `auth` block of cluster c (its tls block is decoded).
func (l *loader) auth(ctx *hcl.EvalContext, blk *hcl.Block, c *Cluster) *Auth {
	content := l.content(blk.Body, authSchema)
	as := content.Attributes
	a := &Auth{DeclRange: blk.DefRange}
	l.boolean(ctx, as, "enabled", &a.Enabled)
	l.boolean(ctx, as, "allow_disable", &a.AllowDisable)

	roles := map[string]*hcl.Block{}
	users := map[string]*hcl.Block{}
	rolesAt := map[*User]hcl.Range{} // where each user's roles are listed
	for _, b := range content.Blocks {
		switch b.Type {
		case "role":
			name := b.Labels[0]
			if prev, dup := roles[name]; dup {
				l.diags = append(l.diags, errAt(b.LabelRanges[0], "Duplicate role block",
					fmt.Sprintf("Another role named %s was defined at %s.", name, prev.DefRange))...)
				continue
			}
			roles[name] = b
			if r := l.role(ctx, b); r != nil {
				a.Roles = append(a.Roles, r)
			}
		case "user":
			name := b.Labels[0]
			if prev, dup := users[name]; dup {
				l.diags = append(l.diags, errAt(b.LabelRanges[0], "Duplicate user block",
					fmt.Sprintf("Another user named %s was defined at %s.", name, prev.DefRange))...)
				continue
			}
			users[name] = b
			u, ra := l.user(ctx, b)
			a.Users = append(a.Users, u)
			rolesAt[u] = b.DefRange
			if ra != nil {
				rolesAt[u] = ra.Expr.Range()
			}
		}
	}
	// Every role a user holds is declared, or root.
	declared := []string{RootName}
	for _, r := range a.Roles {
		declared = append(declared, r.Name)
	}
	for _, u := range a.Users {
		for _, rn := range u.Roles {
			if !slices.Contains(declared, rn) {
				l.diags = append(l.diags, errAt(rolesAt[u], "Unknown role",
					fmt.Sprintf("The user %s holds the role %q, which no role block of cluster %s declares (the built-in role \"root\" needs none).%s", u.Name, rn, c.Name, suggestion(rn, declared)))...)
			}
		}
	}
	if tb := l.single(content, "tool"); tb != nil {
		a.Tool = l.authTool(ctx, tb, a, c)
	}
	if a.Enabled {
		root := a.User(RootName)
		switch {
		case root == nil:
			l.diags = append(l.diags, errAt(blk.DefRange, "Auth without root user",
				"etcd enables authentication only when a user \"root\" holding the role \"root\" exists: declare user \"root\" { roles = [\"root\"] ... } in this block.")...)
		case !slices.Contains(root.Roles, RootName):
			l.diags = append(l.diags, errAt(root.DeclRange, "Root user without root role",
				"etcd enables authentication only when the user \"root\" holds the role \"root\": add \"root\" to its roles.")...)
		}
		if a.Tool == nil {
			l.diags = append(l.diags, errAt(blk.DefRange, "Auth without tool credentials",
				"With enabled = true every request needs credentials, and etcdform would lock itself out: add a tool block naming the user etcdform authenticates as (tool { user = \"etcdform\" }) or tool { client_cert = true } to authenticate by its client certificate.")...)
		}
	}
	return a
}

// authTool decodes the tool block: exactly one of user and client_cert.
func (l *loader) authTool(ctx *hcl.EvalContext, blk *hcl.Block, a *Auth, c *Cluster) *AuthTool {
	as := l.content(blk.Body, authToolSchema).Attributes
	t := &AuthTool{DeclRange: blk.DefRange}
	ua := l.str(ctx, as, "user", &t.User)
	ca := l.boolean(ctx, as, "client_cert", &t.ClientCert)
	switch {
	case ua != nil && t.ClientCert:
		l.diags = append(l.diags, errAt(ca.Expr.Range(), "Conflicting tool credentials",
			"The tool block sets user or client_cert = true, not both: etcd takes a password's user before a certificate's common name.")...)
		return t
	case ua == nil && !t.ClientCert:
		if !l.rejected[as["user"]] {
			l.diags = append(l.diags, errAt(blk.DefRange, "Missing tool credentials",
				"The tool block needs user (a declared user with a password and the role \"root\") or client_cert = true.")...)
		}
		return nil
	}
	if ua != nil {
		u := a.User(t.User)
		switch {
		case u == nil:
			names := make([]string, len(a.Users))
			for i, u := range a.Users {
				names[i] = u.Name
			}
			l.diags = append(l.diags, errAt(ua.Expr.Range(), "Unknown tool user",
				fmt.Sprintf("etcdform authenticates as %q, but no user block of cluster %s declares that user; etcdform would lock itself out.%s", t.User, c.Name, suggestion(t.User, names)))...)
		case u.Password.None:
			l.diags = append(l.diags, errAt(ua.Expr.Range(), "Tool user without password",
				fmt.Sprintf("The user %s has no_password = true, so etcdform cannot authenticate as it with a password; give it password_env or password_file, or use client_cert = true.", u.Name))...)
		case !slices.Contains(u.Roles, RootName):
			l.diags = append(l.diags, errAt(ua.Expr.Range(), "Tool user without root role",
				fmt.Sprintf("etcdform changes members, moves leadership, takes snapshots, defragments and holds its lock under /etcdform/, which etcd allows only to the role \"root\"; add \"root\" to the roles of user %s (declared at %s).", u.Name, u.DeclRange))...)
		}
	}
	if t.ClientCert && (c.TLS == nil || c.TLS.Client == nil || !c.TLS.Client.ClientCertAuth) {
		l.diags = append(l.diags, errAt(ca.Expr.Range(), "Client certificate auth without client TLS",
			"etcd maps a client certificate's common name to a user only on client URLs with TLS and client_cert_auth = true: add a tls { client { ... } } block, or authenticate with user.")...)
	}
	return t
}

// role decodes `role "NAME" { permission { ... } ... }`.
func (l *loader) role(ctx *hcl.EvalContext, b *hcl.Block) *Role {
	r := &Role{Name: b.Labels[0], DeclRange: b.DefRange}
	l.checkAuthName(b.LabelRanges[0], "role", r.Name)
	if r.Name == RootName {
		l.diags = append(l.diags, errAt(b.LabelRanges[0], "Built-in role declared",
			"The role \"root\" is etcd's built-in role, which grants every key and the cluster's administration; grant it to users without declaring it.")...)
		return nil
	}
	content := l.content(b.Body, roleSchema)
	seen := map[[2]string]hcl.Range{}
	for _, pb := range content.Blocks {
		p, ok := l.permission(ctx, pb)
		if !ok {
			continue
		}
		k := [2]string{p.Key, p.RangeEnd}
		if prev, dup := seen[k]; dup {
			l.diags = append(l.diags, errAt(pb.DefRange, "Duplicate permission",
				fmt.Sprintf("The role %s already grants this key range at %s; etcd keeps one permission per range, so merge the two into one type.", r.Name, prev))...)
			continue
		}
		seen[k] = pb.DefRange
		r.Permissions = append(r.Permissions, p)
	}
	return r
}

// permission decodes one permission block into its key range.
func (l *loader) permission(ctx *hcl.EvalContext, b *hcl.Block) (Permission, bool) {
	as := l.content(b.Body, permissionSchema).Attributes
	p := Permission{DeclRange: b.DefRange}
	ok := true
	if a := l.str(ctx, as, "type", &p.Type); a != nil {
		ok = l.oneOf(a, "type", p.Type, "read", "write", "readwrite") && ok
	} else {
		ok = false
	}
	ka := l.str(ctx, as, "key", &p.Key)
	if ka == nil {
		return p, false
	}
	var prefix, fromKey bool
	pa := l.boolean(ctx, as, "prefix", &prefix)
	fa := l.boolean(ctx, as, "from_key", &fromKey)
	var end string
	ea := l.str(ctx, as, "range_end", &end)
	set := 0
	for _, x := range []bool{prefix, fromKey, ea != nil} {
		if x {
			set++
		}
	}
	if set > 1 {
		rng := b.DefRange
		for _, a := range []*hcl.Attribute{ea, fa, pa} {
			if a != nil {
				rng = a.Expr.Range()
			}
		}
		l.diags = append(l.diags, errAt(rng, "Conflicting key range",
			"A permission names its range with at most one of prefix = true, from_key = true and range_end.")...)
		return p, false
	}
	switch {
	case prefix && p.Key == "":
		p.Key, p.RangeEnd = "\x00", "\x00" // etcdctl's --prefix "": every key
	case prefix:
		p.RangeEnd = PrefixEnd(p.Key)
	case fromKey:
		if p.Key == "" {
			p.Key = "\x00"
		}
		p.RangeEnd = "\x00"
	case ea != nil:
		p.RangeEnd = end
		if p.Key == "" || end == "" || end <= p.Key {
			l.diags = append(l.diags, errAt(ea.Expr.Range(), "Empty key range",
				fmt.Sprintf("The range_end %q must sort after the key %q (the range is key inclusive to range_end exclusive, compared byte by byte), and neither may be empty.", end, p.Key))...)
			return p, false
		}
	case p.Key == "":
		l.diags = append(l.diags, errAt(ka.Expr.Range(), "Empty key",
			"etcd grants no permission on the empty key: set prefix = true for every key, or name a key.")...)
		return p, false
	}
	return p, ok
}

// PrefixEnd returns the end of the range of keys starting with prefix:
// prefix with its last byte below 0xff incremented and the rest dropped,
// or "\x00" (no end) when every byte is 0xff.
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

// user decodes `user "NAME" { roles = [...]  password_env | password_file | no_password }`.
// It returns the roles attribute too (nil when absent), for messages.
func (l *loader) user(ctx *hcl.EvalContext, b *hcl.Block) (*User, *hcl.Attribute) {
	u := &User{Name: b.Labels[0], DeclRange: b.DefRange}
	l.checkAuthName(b.LabelRanges[0], "user", u.Name)
	as := l.content(b.Body, userSchema).Attributes
	rolesAttr := as["roles"]
	if v, a, ok := l.value(ctx, as, "roles", cty.List(cty.String)); ok {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				continue
			}
			rn := e.AsString()
			if !l.checkChars(a, "roles", rn) {
				continue
			}
			if slices.Contains(u.Roles, rn) {
				l.diags = append(l.diags, errAt(a.Expr.Range(), "Duplicate role",
					fmt.Sprintf("The user %s lists the role %q twice.", u.Name, rn))...)
				continue
			}
			u.Roles = append(u.Roles, rn)
		}
		slices.Sort(u.Roles)
	}
	var file string
	envA := l.str(ctx, as, "password_env", &u.Password.Env)
	fileA := l.str(ctx, as, "password_file", &file)
	noneA := l.boolean(ctx, as, "no_password", &u.Password.None)
	if envA != nil {
		if why := envNameProblem(u.Password.Env); why != "" {
			l.diags = append(l.diags, errAt(envA.Expr.Range(), "Invalid environment variable name",
				fmt.Sprintf("The password_env %q %s.", u.Password.Env, why))...)
		}
	}
	if fileA != nil {
		if file == "" {
			l.diags = append(l.diags, errAt(fileA.Expr.Range(), "Empty password file", "The password_file names no file.")...)
		} else {
			u.Password.File = l.localPath(file)
		}
	}
	n := 0
	for _, x := range []bool{envA != nil, fileA != nil, u.Password.None} {
		if x {
			n++
		}
	}
	switch {
	case n > 1:
		rng := b.DefRange
		for _, a := range []*hcl.Attribute{noneA, fileA, envA} {
			if a != nil {
				rng = a.Expr.Range()
			}
		}
		l.diags = append(l.diags, errAt(rng, "Conflicting password sources",
			fmt.Sprintf("The user %s sets more than one of password_env, password_file and no_password = true.", u.Name))...)
	case n == 0 && !l.rejected[as["password_env"]] && !l.rejected[as["password_file"]]:
		l.diags = append(l.diags, errAt(b.DefRange, "Missing password source",
			fmt.Sprintf("The user %s needs password_env (an environment variable of the process running etcdform), password_file (a file on the machine running etcdform) or no_password = true (client certificate only). A password is never written in the configuration.", u.Name))...)
	}
	return u, rolesAttr
}

// envNameProblem says why s is not a portable environment variable name, or "".
func envNameProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return fmt.Sprintf("has %q at character %d; a name holds letters, digits and '_' and does not start with a digit", r, i+1)
		}
	}
	return ""
}

// checkAuthName checks a user or role name: etcd takes any bytes, but the
// names are shown in plans and comments and passed to etcd's API, so keep
// them to letters, digits and a few punctuation marks.
func (l *loader) checkAuthName(rng hcl.Range, what, name string) {
	ok := name != "" && len(name) <= MaxAuthNameLen
	for _, r := range name {
		alnum := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !alnum && !strings.ContainsRune("-_.@:", r) {
			ok = false
		}
	}
	if !ok {
		l.diags = append(l.diags, errAt(rng, fmt.Sprintf("Invalid %s name", what),
			fmt.Sprintf("A %s name holds 1 to %d letters, digits, '-', '_', '.', '@' and ':'; %q is not valid.", what, MaxAuthNameLen, name))...)
	}
}
