package command

import (
	"context"
	"fmt"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/internal/version"
)

func init() { register("version", "Print the etcdform and etcd client versions", runVersion) }

func runVersion(_ context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseVersion(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	v := views.Version{Tool: version.Version, EtcdClient: version.EtcdClient()}
	if a.JSON {
		return views.WriteJSON(env.Stdout, v)
	}
	fmt.Fprintf(env.Stdout, "etcdform %s\netcd client %s\n", v.Tool, v.EtcdClient)
	return 0
}
