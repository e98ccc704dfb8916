package command

import (
	"context"
	"fmt"

	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/internal/lab"
)

func init() {
	register("lab", "Run a real multi-host etcd test bed in network namespaces (up, status, fault, down)", runLab)
}

func runLab(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseLab(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	progress := func(s string) { fmt.Fprintln(env.Stderr, "lab:", s) }
	switch a.Sub {
	case "up":
		st, err := lab.Up(ctx, lab.Options{Dir: a.Dir, Members: a.Members, Spare: a.Spare, EtcdVersion: a.EtcdVersion, Subnet: a.Subnet, TLS: a.TLS, Init: a.Init}, progress)
		if err != nil {
			printError(env, "%v", err)
			return 1
		}
		fmt.Fprintf(env.Stdout, "Lab up: %d members, %d hosts on %s, etcd %s.\n", len(st.Members()), len(st.Hosts), st.Subnet, st.EtcdVersion)
		fmt.Fprintf(env.Stdout, "Configuration: %s\nSSH: ssh -i %s -o UserKnownHostsFile=%s root@%s\n", st.HCLFile(), st.KeyFile(), st.KnownHostsFile(), st.Hosts[0].Addr)
		return 0
	case "down":
		if err := lab.Down(ctx, a.Dir); err != nil {
			printError(env, "%v", err)
			return 1
		}
		fmt.Fprintln(env.Stdout, "Lab down.")
		return 0
	}
	st, err := lab.Load(a.Dir)
	if err != nil {
		printError(env, "%v", err)
		return 1
	}
	switch a.Sub {
	case "status":
		rows := st.Status(ctx)
		if a.JSON {
			return views.WriteJSON(env.Stdout, rows)
		}
		views.LabStatusHuman(env.Stdout, rows)
		return 0
	case "fault":
		if err := st.Fault(ctx, a.Fault, a.Target); err != nil {
			printError(env, "%v", err)
			return 1
		}
		fmt.Fprintf(env.Stdout, "%s: %s done.\n", a.Target, a.Fault)
		return 0
	}
	panic("unreachable: lab subcommand " + a.Sub)
}
