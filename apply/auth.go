package apply

import (
	"context"
	"fmt"

	"github.com/etcdform/etcdform/plan/model"
)

// AuthAdmin changes etcd's auth store. A password never passes through
// apply: the implementation reads it from the step's source where
// etcdform runs, sets it and records its hash. Errors name the role or
// user.
type AuthAdmin interface {
	RoleAdd(ctx context.Context, role string) error
	RoleGrant(ctx context.Context, role string, p model.Permission) error
	RoleRevoke(ctx context.Context, role string, p model.Permission) error
	// UserAdd adds user with the password its source holds, or without a
	// password when src is nil.
	UserAdd(ctx context.Context, user string, src *model.PasswordSource) error
	UserGrant(ctx context.Context, user, role string) error
	UserRevoke(ctx context.Context, user, role string) error
	SetPassword(ctx context.Context, user string, src model.PasswordSource) error
	// AuthEnable makes sure etcdform's own credentials will work once
	// auth is on (the user exists and holds root; its password is set to
	// the one etcdform authenticates with), switches auth on and checks
	// they do.
	AuthEnable(ctx context.Context) error
	AuthDisable(ctx context.Context) error
}

// authChange returns the step's auth fields, or an error for a step
// without them (a plan file checks this on reading; a hand-made step may not).
func authChange(s model.Step) (*model.AuthChange, error) {
	if s.Auth == nil {
		return nil, fmt.Errorf("%s step of cluster %s names no role or user (plan again with this etcdform)", s.Action, s.Cluster)
	}
	return s.Auth, nil
}

func (x *executor) addRole(ctx context.Context, s model.Step) error {
	a, err := authChange(s)
	if err != nil {
		return err
	}
	x.ev("adding role " + a.Role)
	return x.etcd.RoleAdd(ctx, a.Role)
}

func (x *executor) grantPermission(ctx context.Context, s model.Step) error {
	a, err := authChange(s)
	if err != nil {
		return err
	}
	if a.Permission == nil {
		return fmt.Errorf("grant-permission of role %s names no permission", a.Role)
	}
	x.ev(fmt.Sprintf("granting role %s %s", a.Role, a.Permission.Type))
	return x.etcd.RoleGrant(ctx, a.Role, *a.Permission)
}

func (x *executor) revokePermission(ctx context.Context, s model.Step) error {
	a, err := authChange(s)
	if err != nil {
		return err
	}
	if a.Permission == nil {
		return fmt.Errorf("revoke-permission of role %s names no permission", a.Role)
	}
	x.ev("revoking a permission of role " + a.Role)
	return x.etcd.RoleRevoke(ctx, a.Role, *a.Permission)
}

func (x *executor) addUser(ctx context.Context, s model.Step) error {
	a, err := authChange(s)
	if err != nil {
		return err
	}
	if a.Password == nil && !a.NoPassword {
		return fmt.Errorf("add-user %s names no password source", a.User)
	}
	x.ev("adding user " + a.User)
	return x.etcd.UserAdd(ctx, a.User, a.Password)
}

func (x *executor) grantRole(ctx context.Context, s model.Step) error {
	a, err := authChange(s)
	if err != nil {
		return err
	}
	x.ev(fmt.Sprintf("granting role %s to user %s", a.Role, a.User))
	return x.etcd.UserGrant(ctx, a.User, a.Role)
}

func (x *executor) revokeRole(ctx context.Context, s model.Step) error {
	a, err := authChange(s)
	if err != nil {
		return err
	}
	x.ev(fmt.Sprintf("revoking role %s from user %s", a.Role, a.User))
	return x.etcd.UserRevoke(ctx, a.User, a.Role)
}

func (x *executor) setPassword(ctx context.Context, s model.Step) error {
	a, err := authChange(s)
	if err != nil {
		return err
	}
	if a.Password == nil {
		return fmt.Errorf("set-password of user %s names no password source", a.User)
	}
	x.ev("setting the password of user " + a.User)
	return x.etcd.SetPassword(ctx, a.User, *a.Password)
}

func (x *executor) enableAuth(ctx context.Context, s model.Step) error {
	x.ev("checking etcdform's own credentials, then enabling auth")
	return x.etcd.AuthEnable(ctx)
}

func (x *executor) disableAuth(ctx context.Context, s model.Step) error {
	x.ev("disabling auth")
	return x.etcd.AuthDisable(ctx)
}
