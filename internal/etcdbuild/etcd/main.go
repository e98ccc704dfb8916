// Command etcd is etcd's server, built from go.etcd.io/etcd/server/v3 at the
// version pinned in this module's go.mod. It exists so the lab can build a
// real etcd from the module proxy without touching the product's go.mod.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
