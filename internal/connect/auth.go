package connect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/etcdform/etcdform/plan"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// ReadPassword reads a password from its source: the environment variable
// (through Getenv) or the file (one trailing newline dropped). An unset or
// empty source is an error naming it, never quoting a value.
func ReadPassword(src plan.PasswordSource) (string, error) {
	switch {
	case src.Env != "":
		v := Getenv(src.Env)
		if v == "" {
			return "", fmt.Errorf("the environment variable %s is not set", src.Env)
		}
		return v, nil
	case src.File != "":
		b, err := os.ReadFile(src.File)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("reading the password file %s: %v", src.File, err)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			return "", fmt.Errorf("the password file %s is empty", src.File)
		}
		return s, nil
	}
	return "", errors.New("no password source")
}

func sourceOf(p schema.PasswordSource) plan.PasswordSource {
	return plan.PasswordSource{Env: p.Env, File: p.File}
}

// authOptions returns the option that makes etcdform's client
// authenticate to cluster c as the auth block's tool user, with the
// password from its source; none without an auth block or with
// client_cert (the TLS client certificate's common name is the user).
func authOptions(c *schema.Cluster) ([]etcdp.Option, error) {
	if c == nil || c.Auth == nil || c.Auth.Tool == nil || c.Auth.Tool.User == "" {
		return nil, nil
	}
	u := c.Auth.User(c.Auth.Tool.User)
	if u == nil || u.Password.None {
		return nil, nil
	}
	pw, err := ReadPassword(sourceOf(u.Password))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: the password of etcdform's user %s: %w", c.Name, u.Name, err)
	}
	return []etcdp.Option{etcdp.WithAuth(u.Name, pw)}, nil
}

// AuthOptions is authOptions for the commands that connect to a cluster
// of the configuration outside Observe and apply (backup run).
func AuthOptions(c *schema.Cluster) ([]etcdp.Option, error) { return authOptions(c) }

// clusterNamed returns the cluster of cfg with that name, or nil.
func clusterNamed(cfg *schema.Config, name string) *schema.Cluster {
	if cfg == nil {
		return nil
	}
	for _, c := range cfg.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// observeAuth reads cluster c's auth store and compares each declared
// user's password source with the hash etcdform recorded for it.
func observeAuth(ctx context.Context, cli *etcdp.Client, c *schema.Cluster) *state.Auth {
	a, records, err := cli.ObserveAuth(ctx)
	if err != nil {
		return &state.Auth{Error: err.Error()}
	}
	for _, u := range c.Auth.Users {
		if u.Password.None {
			continue
		}
		pw, err := ReadPassword(sourceOf(u.Password))
		if err != nil {
			if a.SourceErrors == nil {
				a.SourceErrors = map[string]string{}
			}
			a.SourceErrors[u.Name] = err.Error()
			continue
		}
		ou := a.User(u.Name)
		if ou == nil {
			continue
		}
		ou.PasswordCurrent = etcdp.PasswordMatches(records[u.Name], pw)
		// With auth on etcd can say whether the password works: that
		// also finds a password changed by hand (the record still
		// matches the source then). etcdform's own user authenticated
		// to read all this already.
		if a.Enabled && ou.PasswordCurrent && (c.Auth.Tool == nil || c.Auth.Tool.User != u.Name) {
			if ok, err := cli.Authenticates(ctx, u.Name, pw); err == nil && !ok {
				ou.PasswordCurrent = false
			}
		}
	}
	return a
}

func (e *etcdAdapter) RoleAdd(ctx context.Context, role string) error {
	return e.cli.RoleAdd(ctx, role)
}
func (e *etcdAdapter) RoleGrant(ctx context.Context, role string, p plan.Permission) error {
	return e.cli.RoleGrant(ctx, role, p.Type, p.Key, p.RangeEnd)
}
func (e *etcdAdapter) RoleRevoke(ctx context.Context, role string, p plan.Permission) error {
	return e.cli.RoleRevoke(ctx, role, p.Key, p.RangeEnd)
}
func (e *etcdAdapter) UserAdd(ctx context.Context, user string, src *plan.PasswordSource) error {
	if src == nil {
		return e.cli.UserAdd(ctx, user, "", true)
	}
	pw, err := ReadPassword(*src)
	if err != nil {
		return fmt.Errorf("user %s: %w", user, err)
	}
	return e.cli.UserAdd(ctx, user, pw, false)
}
func (e *etcdAdapter) UserGrant(ctx context.Context, user, role string) error {
	return e.cli.UserGrant(ctx, user, role)
}
func (e *etcdAdapter) UserRevoke(ctx context.Context, user, role string) error {
	return e.cli.UserRevoke(ctx, user, role)
}
func (e *etcdAdapter) SetPassword(ctx context.Context, user string, src plan.PasswordSource) error {
	pw, err := ReadPassword(src)
	if err != nil {
		return fmt.Errorf("user %s: %w", user, err)
	}
	return e.cli.SetPassword(ctx, user, pw)
}
func (e *etcdAdapter) AuthEnable(ctx context.Context) error  { return e.cli.AuthEnable(ctx) }
func (e *etcdAdapter) AuthDisable(ctx context.Context) error { return e.cli.AuthDisable(ctx) }
