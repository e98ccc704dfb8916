// Command etcdbuild builds (or finds cached) etcd and etcdutl binaries at
// the pinned version and prints their paths. `make deps` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/etcdform/etcdform/internal/etcdbin"
)

func main() {
	v := flag.String("version", "", "etcd version (default: the pinned one)")
	flag.Parse()
	b, err := etcdbin.Ensure(context.Background(), *v, func(s string) { fmt.Fprintln(os.Stderr, s) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("etcd %s: %s %s\n", b.Version, b.Etcd, b.Etcdutl)
}
