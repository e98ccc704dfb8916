package views

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/etcdform/etcdform/internal/lab"
)

// LabStatusHuman renders `lab status` as a table.
func LabStatusHuman(w io.Writer, rows []lab.MemberStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tADDRESS\tCLIENT URL\tPROCESS\tHEALTH\tNETWORK")
	for _, r := range rows {
		role, proc, health, net := "member", "down", "-", "connected"
		if !r.Member {
			role = "spare"
		}
		if r.Running {
			proc = "running"
		}
		if r.Member {
			health = "unhealthy"
			if r.Healthy {
				health = "healthy"
			}
		}
		if !r.Reachable {
			net = "partitioned"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, role, r.Addr, r.ClientURL, proc, health, net)
	}
	tw.Flush()
}
