package connect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/plan"
	sshp "github.com/etcdform/etcdform/providers/ssh"
)

// testPool is a HostPool whose dials return a fresh zero Client (or the
// error fail says) once release is closed, counting dials and closes.
type testPool struct {
	*HostPool
	release        chan struct{}
	ends           sync.Map // *sshp.Client -> chan struct{}: closed to end that connection
	dials, closes  atomic.Int32
	mu             sync.Mutex
	fail           error
	closedByClient map[*sshp.Client]int
}

func newTestPool() *testPool {
	tp := &testPool{HostPool: NewHostPool(), release: make(chan struct{}), closedByClient: map[*sshp.Client]int{}}
	tp.dialFn = func(ctx context.Context, a plan.HostAddr) (*sshp.Client, error) {
		tp.dials.Add(1)
		select {
		case <-tp.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		tp.mu.Lock()
		defer tp.mu.Unlock()
		if tp.fail != nil {
			return nil, tp.fail
		}
		return &sshp.Client{}, nil
	}
	tp.closeFn = func(c *sshp.Client) {
		tp.closes.Add(1)
		tp.mu.Lock()
		tp.closedByClient[c]++
		tp.mu.Unlock()
		tp.end(c)
	}
	tp.waitFn = func(c *sshp.Client) {
		ch, _ := tp.ends.LoadOrStore(c, make(chan struct{}))
		<-ch.(chan struct{})
	}
	return tp
}

// end ends connection c, as the host closing it would.
func (tp *testPool) end(c *sshp.Client) {
	ch, _ := tp.ends.LoadOrStore(c, make(chan struct{}))
	select {
	case <-ch.(chan struct{}):
	default:
		close(ch.(chan struct{}))
	}
}

// TestHostPool: a host is dialled once however many ask (warm-up, the
// locks, the observation, the steps: one dial in flight shared), by
// address with its bastion compared by value; a failed dial is not kept;
// an asker whose context ends stops waiting without ending the dial; a
// connection that ended is dialled again; Release closes every connection
// once and leaves the pool usable; Close closes the rest, and one whose
// dial ends after it.
func TestHostPool(t *testing.T) {
	tp := newTestPool()
	a := plan.HostAddr{Host: "10.0.0.1", Port: 22, User: "root", Bastion: &plan.Bastion{Host: "jump"}}
	b := a
	b.Bastion = &plan.Bastion{Host: "jump"} // the same bastion, another pointer

	tp.warm(a)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tp.get(ctx, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with an ended context while the dial is in flight: %v, want context.Canceled", err)
	}
	got := make([]*sshp.Client, 4)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli, release, err := tp.dial(context.Background(), b)
			if err != nil {
				t.Errorf("dial %d: %v", i, err)
			}
			release() // the pool keeps it
			got[i] = cli
		}()
	}
	close(tp.release)
	wg.Wait()
	if n := tp.dials.Load(); n != 1 {
		t.Errorf("%d dials for one host, want 1", n)
	}
	for i, c := range got {
		if c == nil || c != got[0] {
			t.Errorf("asker %d got %p, want the one connection %p", i, c, got[0])
		}
	}
	if n := tp.closes.Load(); n != 0 {
		t.Errorf("%d connections closed before Close, want 0", n)
	}

	// A failed dial is the asker's error, and the next asker dials again.
	other := plan.HostAddr{Host: "10.0.0.2", Port: 22}
	tp.mu.Lock()
	tp.fail = errors.New("connection refused")
	tp.mu.Unlock()
	if _, err := tp.get(context.Background(), other); err == nil || err.Error() != "connection refused" {
		t.Fatalf("get of an unreachable host: %v, want its dial's error", err)
	}
	tp.mu.Lock()
	tp.fail = nil
	tp.mu.Unlock()
	second, err := tp.get(context.Background(), other)
	if err != nil || second == nil || tp.dials.Load() != 3 {
		t.Fatalf("get after a failed dial: %p, %v, %d dials; want a new dial (3 in all)", second, err, tp.dials.Load())
	}

	// A connection that ended is not handed out again.
	tp.end(second)
	labtest.Eventually(t, 10*time.Second, func() error {
		tp.HostPool.mu.Lock()
		defer tp.HostPool.mu.Unlock()
		if len(tp.conns) != 1 {
			return fmt.Errorf("%d connections pooled, want 1 (the ended one forgotten)", len(tp.conns))
		}
		return nil
	})
	third, err := tp.get(context.Background(), other)
	if err != nil || third == second || tp.dials.Load() != 4 {
		t.Fatalf("get after the connection ended: %p (ended %p), %v, %d dials; want a new dial (4 in all)", third, second, err, tp.dials.Load())
	}

	// Release, at the end of a cluster's apply, closes the connections
	// and leaves the pool open for the next cluster.
	tp.Release()
	if n := tp.closes.Load(); n != 2 || tp.closedByClient[got[0]] != 1 || tp.closedByClient[third] != 1 {
		t.Errorf("Release closed %d connections (%v), want the 2 open ones once", n, tp.closedByClient)
	}
	fourth, err := tp.get(context.Background(), a)
	if err != nil || fourth == got[0] || tp.dials.Load() != 5 {
		t.Fatalf("get after Release: %p, %v, %d dials; want a new dial (5 in all)", fourth, err, tp.dials.Load())
	}
	second = fourth

	tp.Close()
	tp.Close()
	if n := tp.closes.Load(); n != 3 || tp.closedByClient[second] != 1 {
		t.Errorf("Close closed %d connections in all (%v), want the one open since Release once (3 in all)", n, tp.closedByClient)
	}
	if _, err := tp.get(context.Background(), a); !errors.Is(err, errPoolClosed) {
		t.Errorf("get after Close: %v, want errPoolClosed", err)
	}

	// A dial in flight at Close that still connects (a dial may finish
	// its handshake before it sees its context end) is closed when it
	// ends, and its askers get errPoolClosed.
	tp2 := newTestPool()
	started, finish := make(chan struct{}), make(chan struct{})
	tp2.dialFn = func(context.Context, plan.HostAddr) (*sshp.Client, error) {
		close(started)
		<-finish
		return &sshp.Client{}, nil
	}
	e := tp2.start(a)
	<-started
	tp2.Close()
	close(finish)
	<-e.done
	if n := tp2.closes.Load(); n != 1 || !errors.Is(e.err, errPoolClosed) {
		t.Errorf("a dial that ended after Close: %d closes, error %v; want it closed and errPoolClosed", n, e.err)
	}

	var none *HostPool // Observe without a pool
	none.warm(a)
	none.Close()
}
