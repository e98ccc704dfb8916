package etcd

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/etcdform/etcdform/state"
)

// PasswordPrefix is where etcdform keeps, per user whose password it set,
// a bcrypt hash of that password: PasswordPrefix + "<user>". A plan
// compares the password its source holds now with it, so it sets a
// password again only when the source changed, without ever storing the
// password. bcrypt is salted and slow, the construction etcd itself
// keeps for every user in its auth store (which every snapshot carries):
// the record tells a reader of the key no more than a snapshot does.
const PasswordPrefix = "/etcdform/auth/password/"

// Sentinel errors of the auth operations.
var (
	ErrLockout = errors.New("etcd: enabling auth would lock etcdform out")
)

// WithAuth makes every request authenticate as user with password (etcd
// ignores it while auth is off; the client refreshes its token when auth
// is switched on or an auth change makes the token stale). The password
// stays in memory.
func WithAuth(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// PasswordMatches reports whether record (a value under PasswordPrefix)
// is the hash of password.
func PasswordMatches(record []byte, password string) bool {
	return len(record) > 0 && bcrypt.CompareHashAndPassword(record, []byte(password)) == nil
}

// Authenticates reports whether user can authenticate with password (a
// request that goes through raft, and a bcrypt check on the member).
// Errors: auth is off (etcd cannot tell then), or the request failed.
func (c *Client) Authenticates(ctx context.Context, user, password string) (bool, error) {
	_, err := c.cli.Authenticate(ctx, user, password)
	switch {
	case err == nil:
		return true, nil
	case isEtcdErr(err, rpctypes.ErrAuthFailed):
		return false, nil
	}
	return false, fmt.Errorf("etcd: authenticating as %s: %w", user, err)
}

// ObserveAuth reads whether auth is on, every role with its permissions
// (the built-in root role has none to show) and every user with its roles,
// and the password records, as raw records by user name (the caller
// compares them with the password sources; sha256 of each goes into
// state for the fingerprint). With auth on this needs the role root.
func (c *Client) ObserveAuth(ctx context.Context) (*state.Auth, map[string][]byte, error) {
	st, err := c.cli.AuthStatus(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("etcd: auth status: %w", err)
	}
	a := &state.Auth{Enabled: st.Enabled}
	roles, err := c.cli.RoleList(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("etcd: listing roles: %w", err)
	}
	for _, name := range roles.Roles {
		r := state.Role{Name: name}
		if name != rootName {
			rg, err := c.cli.RoleGet(ctx, name)
			if err != nil {
				return nil, nil, fmt.Errorf("etcd: reading role %s: %w", name, err)
			}
			for _, p := range rg.Perm {
				r.Permissions = append(r.Permissions, state.Permission{
					Type: permTypeName(p.PermType), Key: string(p.Key), RangeEnd: string(p.RangeEnd)})
			}
		}
		a.Roles = append(a.Roles, r)
	}
	users, err := c.cli.UserList(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("etcd: listing users: %w", err)
	}
	for _, name := range users.Users {
		ug, err := c.cli.UserGet(ctx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("etcd: reading user %s: %w", name, err)
		}
		roles := append([]string(nil), ug.Roles...)
		slices.Sort(roles)
		a.Users = append(a.Users, state.User{Name: name, Roles: roles})
	}
	resp, err := c.cli.Get(ctx, PasswordPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, fmt.Errorf("etcd: reading the password records: %w", err)
	}
	records := map[string][]byte{}
	for _, kv := range resp.Kvs {
		name := strings.TrimPrefix(string(kv.Key), PasswordPrefix)
		records[name] = kv.Value
		sum := sha256.Sum256(kv.Value)
		for i := range a.Users {
			if a.Users[i].Name == name {
				a.Users[i].PasswordRecord = hex.EncodeToString(sum[:])
			}
		}
	}
	return a, records, nil
}

const rootName = "root"

func permTypeName(t authpb.Permission_Type) string {
	switch t {
	case authpb.READ:
		return "read"
	case authpb.WRITE:
		return "write"
	case authpb.READWRITE:
		return "readwrite"
	}
	return fmt.Sprintf("type-%d", t)
}

func permType(name string) (clientv3.PermissionType, error) {
	switch name {
	case "read":
		return clientv3.PermissionType(authpb.READ), nil
	case "write":
		return clientv3.PermissionType(authpb.WRITE), nil
	case "readwrite":
		return clientv3.PermissionType(authpb.READWRITE), nil
	}
	return 0, fmt.Errorf("etcd: unknown permission type %q", name)
}

// RoleAdd adds a role; an existing role of that name is no error.
func (c *Client) RoleAdd(ctx context.Context, role string) error {
	if _, err := c.cli.RoleAdd(ctx, role); err != nil && !isEtcdErr(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("etcd: adding role %s: %w", role, err)
	}
	return nil
}

// RoleGrant grants (or changes the type of) a permission on [key, rangeEnd).
func (c *Client) RoleGrant(ctx context.Context, role, typ, key, rangeEnd string) error {
	t, err := permType(typ)
	if err != nil {
		return err
	}
	if _, err := c.cli.RoleGrantPermission(ctx, role, key, rangeEnd, t); err != nil {
		return fmt.Errorf("etcd: granting role %s %s on %q: %w", role, typ, key, err)
	}
	return nil
}

// RoleRevoke revokes the permission on [key, rangeEnd); one not granted is
// no error.
func (c *Client) RoleRevoke(ctx context.Context, role, key, rangeEnd string) error {
	if _, err := c.cli.RoleRevokePermission(ctx, role, key, rangeEnd); err != nil && !isEtcdErr(err, rpctypes.ErrPermissionNotGranted) {
		return fmt.Errorf("etcd: revoking from role %s the range %q: %w", role, key, err)
	}
	return nil
}

// UserAdd adds a user with password (or none, for a user that
// authenticates only by a certificate's common name) and records the
// password's hash (PasswordPrefix). An existing user gets the password set.
func (c *Client) UserAdd(ctx context.Context, user, password string, noPassword bool) error {
	var err error
	if noPassword {
		_, err = c.cli.UserAddWithOptions(ctx, user, "", &clientv3.UserAddOptions{NoPassword: true})
	} else {
		_, err = c.cli.UserAdd(ctx, user, password)
	}
	switch {
	case err != nil && isEtcdErr(err, rpctypes.ErrUserAlreadyExist) && !noPassword:
		return c.SetPassword(ctx, user, password)
	case err != nil && !isEtcdErr(err, rpctypes.ErrUserAlreadyExist):
		return fmt.Errorf("etcd: adding user %s: %w", user, err)
	}
	if noPassword {
		return nil
	}
	return c.recordPassword(ctx, user, password)
}

// SetPassword changes user's password and records its hash.
func (c *Client) SetPassword(ctx context.Context, user, password string) error {
	if _, err := c.cli.UserChangePassword(ctx, user, password); err != nil {
		return fmt.Errorf("etcd: setting the password of user %s: %w", user, err)
	}
	return c.recordPassword(ctx, user, password)
}

func (c *Client) recordPassword(ctx context.Context, user, password string) error {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("etcd: hashing the password of user %s: %w", user, err)
	}
	if _, err := c.cli.Put(ctx, PasswordPrefix+user, string(h)); err != nil {
		return fmt.Errorf("etcd: recording the password hash of user %s: %w", user, err)
	}
	return nil
}

// UserGrant grants role to user (again is no error).
func (c *Client) UserGrant(ctx context.Context, user, role string) error {
	if _, err := c.cli.UserGrantRole(ctx, user, role); err != nil {
		return fmt.Errorf("etcd: granting role %s to user %s: %w", role, user, err)
	}
	return nil
}

// UserRevoke revokes role from user; a role not granted is no error.
func (c *Client) UserRevoke(ctx context.Context, user, role string) error {
	if _, err := c.cli.UserRevokeRole(ctx, user, role); err != nil && !isEtcdErr(err, rpctypes.ErrRoleNotGranted) {
		return fmt.Errorf("etcd: revoking role %s from user %s: %w", role, user, err)
	}
	return nil
}

// AuthEnable switches authentication on, after making sure that the
// credentials this client uses will work once it is: the user it
// authenticates as (WithAuth, else the common name of its TLS client
// certificate) must exist and hold the role root (else an error wrapping
// ErrLockout, and nothing changes); with a password, that user's password
// is set to it first (and its hash recorded), since etcd cannot check a
// password while auth is off and a password changed by hand since the
// last plan would lock etcdform out. Afterwards a new client
// authenticates with the same credentials and reads a key under
// /etcdform/; if that fails the error says so (and wraps ErrLockout).
func (c *Client) AuthEnable(ctx context.Context) error {
	user, how := c.o.user, "the user it authenticates as"
	if user == "" {
		user, how = c.certCN(), "the common name of its client certificate"
		if user == "" {
			return fmt.Errorf("%w: it has neither a user with a password nor a client certificate with a common name to authenticate with", ErrLockout)
		}
	}
	ug, err := c.cli.UserGet(ctx, user)
	if err != nil {
		return fmt.Errorf("%w: %s, %q, cannot be read: %v", ErrLockout, how, user, err)
	}
	if !slices.Contains(ug.Roles, rootName) {
		return fmt.Errorf("%w: %s, %q, does not hold the role root (it holds %v)", ErrLockout, how, user, ug.Roles)
	}
	if c.o.user != "" {
		if err := c.SetPassword(ctx, user, c.o.password); err != nil {
			return fmt.Errorf("%w: setting the password etcdform authenticates with: %v", ErrLockout, err)
		}
	}
	if _, err := c.cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("etcd: auth enable: %w", err)
	}
	check, err := clientv3.New(c.base)
	if err == nil {
		_, err = check.Get(ctx, PasswordPrefix+user)
		check.Close()
	}
	if err != nil {
		return fmt.Errorf("%w: auth is on, but a new client as %q fails: %v", ErrLockout, user, err)
	}
	return nil
}

// AuthDisable switches authentication off.
func (c *Client) AuthDisable(ctx context.Context) error {
	if _, err := c.cli.AuthDisable(ctx); err != nil {
		return fmt.Errorf("etcd: auth disable: %w", err)
	}
	return nil
}

// certCN is the common name of the client certificate, or "".
func (c *Client) certCN() string {
	if c.o.tls == nil || len(c.o.tls.Certificates) == 0 || len(c.o.tls.Certificates[0].Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(c.o.tls.Certificates[0].Certificate[0])
	if err != nil {
		return ""
	}
	return leaf.Subject.CommonName
}
