package ssh

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ClientConnections counts the established TCP connections whose local
// port is one of ports on the host, from clients on other hosts (the
// kernel's /proc/net/tcp and tcp6, readable without root): how many
// remote clients are connected to the etcd on it. Apply compares the count
// before a restart with the count after, to know when the clients are
// back. A connection whose client end is on the host itself is left out:
// etcd's own gRPC gateway dials its client port and does so again only
// when a gateway request comes, so after a restart it may never be back.
func (c *Client) ClientConnections(ctx context.Context, ports []int) (int, error) {
	// tcp6 is missing on a kernel without IPv6: what tcp gave is enough.
	out, errb, code, err := c.Run(ctx, "cat /proc/net/tcp; cat /proc/net/tcp6 2>/dev/null; exit 0")
	if err != nil {
		return 0, err
	}
	if code != 0 {
		return 0, c.cmdError("reading /proc/net/tcp", code, errb)
	}
	n, err := countRemoteClients(string(out), ports)
	if err != nil {
		return 0, fmt.Errorf("ssh %s: /proc/net/tcp: %w", c.Addr(), err)
	}
	return n, nil
}

// countRemoteClients counts the lines of /proc/net/tcp{,6} in state 01
// (ESTABLISHED) whose local address ("0B0D5A0A:094B") has one of ports and
// whose other end is not in the table too (a client on this host). Text
// with no table header is an error.
func countRemoteClients(table string, ports []int) (int, error) {
	type conn struct{ local, remote string }
	var est []conn
	headers := 0
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if f[0] == "sl" {
			headers++
			continue
		}
		if f[3] == "01" {
			est = append(est, conn{f[1], f[2]})
		}
	}
	if headers == 0 {
		return 0, fmt.Errorf("no connection table in %q", firstLine(table))
	}
	n := 0
	for _, c := range est {
		_, port, _ := strings.Cut(c.local, ":")
		p, err := strconv.ParseUint(port, 16, 16)
		if err != nil || !slices.Contains(ports, int(p)) {
			continue
		}
		if !slices.Contains(est, conn{c.remote, c.local}) {
			n++
		}
	}
	return n, nil
}
