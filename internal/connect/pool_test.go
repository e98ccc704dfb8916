package connect

import (
	"context"
	"testing"

	"github.com/etcdform/etcdform/plan"
	sshp "github.com/etcdform/etcdform/providers/ssh"
)

// TestHostPool: a connection apply opened is handed to the observation by
// address (its bastion compared by value), is not closed by it, and is
// gone from the pool once apply closes it.
func TestHostPool(t *testing.T) {
	p := NewHostPool()
	a := plan.HostAddr{Host: "10.0.0.1", Port: 22, User: "root", Bastion: &plan.Bastion{Host: "jump"}}
	cli := &sshp.Client{}
	p.put(a, cli)
	b := a
	b.Bastion = &plan.Bastion{Host: "jump"} // the same bastion, another pointer
	got, release, err := p.dial(context.Background(), b)
	if err != nil || got != cli {
		t.Fatalf("dial of a pooled address: %p, %v; want the pooled connection %p", got, err, cli)
	}
	release() // must not close apply's connection (a zero Client would panic if it did)
	p.drop(cli)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, _, err := p.dial(ctx, b); err == nil || got == cli {
		t.Errorf("dial after drop: %p, %v; want a new dial (failing here: the context is cancelled)", got, err)
	}
	var none *HostPool // Observe without a pool
	none.put(a, cli)
	none.drop(cli)
}
