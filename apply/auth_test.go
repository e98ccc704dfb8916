package apply

import (
	"context"
	"fmt"

	"github.com/etcdform/etcdform/plan/model"
)

func (e fakeEtcd) RoleAdd(ctx context.Context, role string) error {
	return e.w.call("role-add " + role)
}
func (e fakeEtcd) RoleGrant(ctx context.Context, role string, p model.Permission) error {
	return e.w.call(fmt.Sprintf("role-grant %s %s %q %q", role, p.Type, p.Key, p.RangeEnd))
}
func (e fakeEtcd) RoleRevoke(ctx context.Context, role string, p model.Permission) error {
	return e.w.call(fmt.Sprintf("role-revoke %s %q %q", role, p.Key, p.RangeEnd))
}
func (e fakeEtcd) UserAdd(ctx context.Context, user string, src *model.PasswordSource) error {
	s := "no password"
	if src != nil {
		s = src.String()
	}
	return e.w.call(fmt.Sprintf("user-add %s %s", user, s))
}
func (e fakeEtcd) UserGrant(ctx context.Context, user, role string) error {
	return e.w.call(fmt.Sprintf("user-grant %s %s", user, role))
}
func (e fakeEtcd) UserRevoke(ctx context.Context, user, role string) error {
	return e.w.call(fmt.Sprintf("user-revoke %s %s", user, role))
}
func (e fakeEtcd) SetPassword(ctx context.Context, user string, src model.PasswordSource) error {
	return e.w.call(fmt.Sprintf("set-password %s %s", user, src))
}
func (e fakeEtcd) AuthEnable(ctx context.Context) error  { return e.w.call("auth-enable") }
func (e fakeEtcd) AuthDisable(ctx context.Context) error { return e.w.call("auth-disable") }
