package etcd

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
)

// AuthEnable refuses, and leaves auth off, while etcdform's own user lacks
// the role root; once it holds root, AuthEnable switches auth on even
// though the user's password was changed by hand (it sets etcdform's
// password first), after which an anonymous read is refused and the tool's
// client reads. ObserveAuth sees the users, roles and records.
func TestAuthEnableRefusesLockout(t *testing.T) {
	ec := etcdtest.NewCluster(t, 1)
	ctx := deadline(t, time.Minute)
	admin := newClient(t, ec.Endpoints())
	for _, step := range []func() error{
		func() error { return admin.UserAdd(ctx, "root", "root-pw", false) },
		func() error { return admin.UserGrant(ctx, "root", "root") },
		func() error { return admin.UserAdd(ctx, "etcdform", "tool-pw", false) },
		func() error { return admin.RoleAdd(ctx, "app") },
		func() error { return admin.RoleGrant(ctx, "app", "read", "/app/", "/app0") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	tool, err := New(ec.Endpoints(), WithAuth("etcdform", "tool-pw"), WithEndpointTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	enabled := func() bool {
		st, err := admin.Raw().AuthStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Enabled
	}

	if err := tool.AuthEnable(ctx); !errors.Is(err, ErrLockout) || enabled() {
		t.Fatalf("tool user without root: %v, enabled %v; want ErrLockout and auth off", err, enabled())
	}
	if err := admin.UserGrant(ctx, "etcdform", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Raw().UserChangePassword(ctx, "etcdform", "changed-by-hand"); err != nil {
		t.Fatal(err)
	}
	a, records, err := admin.ObserveAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.Enabled || a.Role("app") == nil || len(a.Role("app").Permissions) != 1 || a.User("etcdform") == nil ||
		!slices.Equal(a.User("etcdform").Roles, []string{"root"}) || a.User("root").PasswordRecord == "" {
		t.Errorf("observed auth: %+v", a)
	}
	if !PasswordMatches(records["etcdform"], "tool-pw") || PasswordMatches(records["etcdform"], "changed-by-hand") {
		t.Errorf("the record of etcdform's password does not match what etcdform set")
	}

	// The password was changed by hand since etcdform recorded it, which
	// etcd cannot tell while auth is off: AuthEnable sets it first, so
	// etcdform is not locked out.
	if err := tool.AuthEnable(ctx); err != nil || !enabledAs(t, tool) {
		t.Fatalf("AuthEnable: %v", err)
	}
	if _, err := admin.Raw().Get(ctx, "/app/k"); err == nil {
		t.Errorf("an anonymous read after auth enable succeeded")
	}
	if ok, err := tool.Authenticates(ctx, "root", "root-pw"); err != nil || !ok {
		t.Errorf("root authenticates: %v, %v", ok, err)
	}
	if ok, err := tool.Authenticates(ctx, "root", "wrong"); err != nil || ok {
		t.Errorf("root with a wrong password authenticates: %v, %v", ok, err)
	}
}

// enabledAs reports whether c, with its credentials, sees auth on.
func enabledAs(t *testing.T, c *Client) bool {
	st, err := c.Raw().AuthStatus(t.Context())
	return err == nil && st.Enabled
}
