// Command etcdform reconciles etcd clusters with their HCL description.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/etcdform/etcdform/internal/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := command.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
