package state

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Auth is what etcd's auth store held: whether authentication is on, the
// roles with their permissions and the users with their roles. It holds
// no password and no password hash: only, per user, the sha256 of the
// record etcdform keeps of the password it set (for the fingerprint), and
// whether that record matches the password the user's source holds now.
type Auth struct {
	Enabled bool
	Roles   []Role // in etcd's order (by name)
	Users   []User // in etcd's order (by name)
	// SourceErrors says, per declared user whose password source could
	// not be read where etcdform runs, why (an unset variable, a missing
	// file); never a value.
	SourceErrors map[string]string
	// Error says why the auth store could not be read (with auth on,
	// reading it needs the role root); the other fields are then unknown.
	Error string
}

// Role is one role of etcd's auth store. The built-in role root shows no
// permissions.
type Role struct {
	Name        string
	Permissions []Permission
}

// Permission is one key range a role grants: Type "read", "write" or
// "readwrite"; RangeEnd "" for the single key Key, "\x00" for every key
// from Key on.
type Permission struct {
	Type, Key, RangeEnd string
}

// User is one user of etcd's auth store.
type User struct {
	Name  string
	Roles []string // sorted
	// PasswordRecord is the sha256 (hex) of the hash etcdform recorded for
	// the password it set (etcd.PasswordPrefix), "" when there is none.
	PasswordRecord string
	// PasswordCurrent: the record matches the password the user's
	// declared source holds now (so the password need not be set again).
	PasswordCurrent bool
}

// User returns the user of that name, or nil.
func (a *Auth) User(name string) *User {
	for i := range a.Users {
		if a.Users[i].Name == name {
			return &a.Users[i]
		}
	}
	return nil
}

// Role returns the role of that name, or nil.
func (a *Auth) Role(name string) *Role {
	for i := range a.Roles {
		if a.Roles[i].Name == name {
			return &a.Roles[i]
		}
	}
	return nil
}

// Digest is a sha256 (hex) of what a plan of auth steps depends on:
// whether auth is on, every role's permissions, every user's roles and
// password record; "" for nil. PasswordCurrent is left out (it depends on
// the environment of the process that looked, not on the cluster).
func (a *Auth) Digest() string {
	if a == nil || a.Error != "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "enabled=%v\n", a.Enabled)
	for _, r := range a.Roles {
		fmt.Fprintf(&b, "role %q\n", r.Name)
		for _, p := range r.Permissions {
			fmt.Fprintf(&b, " %s %q %q\n", p.Type, p.Key, p.RangeEnd)
		}
	}
	for _, u := range a.Users {
		fmt.Fprintf(&b, "user %q %q %s\n", u.Name, u.Roles, u.PasswordRecord)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
