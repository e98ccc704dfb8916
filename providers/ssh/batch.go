package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Batch runs the commands of a group of goroutines on one host in as few
// SSH sessions as the group's dependencies allow. Each goroutine (started
// with Go) gets a Client whose commands do not open a session of their
// own: a command waits until every goroutine of the group is either
// waiting on a command or done, and then all the waiting commands run in
// one session, one after another, each in its own subshell with stdin from
// /dev/null, their outputs and exit statuses framed by a random boundary.
// So independent reads cost one session and one round trip between them,
// and a read that needs another's answer costs a second.
//
// The results are those the commands would have given in sessions of
// their own: when the framing cannot be read back (a host whose sh is not
// POSIX, a sudo that refused), each command of that session runs again
// alone. Commands with stdin are not batched.
//
// When the context ends during a session, the commands that had finished
// keep their results. Batches are for reads: a command may run twice (in
// the session, then alone when the framing did not come back).
//
// A goroutine of the group must not wait on another goroutine of the
// group other than through Wait, or on anything that waits for one of
// them: the batch would never see them all waiting.
type Batch struct {
	c *Client // the connection

	mu       sync.Mutex
	running  int // goroutines of the group not waiting on a command; 1 for the starter until Wait
	slots    int // goroutines started
	pending  []*call
	sessions int
	wg       sync.WaitGroup
}

type call struct {
	ctx       context.Context
	slot      int    // the goroutine's, in the order Go started them
	shared    bool   // its session runs under its own context (every call of the session has the same)
	cmd       string // the command line, as it runs in a session of its own
	inline    string // for a script: its body with its arguments set (set --), run in the batch's own sh
	out, errb []byte
	code      int
	err       error
	done      chan struct{}
}

// NewBatch returns an empty batch on c's connection. Start its goroutines
// with Go, then Wait: no command runs before Wait, so that the first
// session gathers every goroutine's first command.
func (c *Client) NewBatch() *Batch {
	conn := *c
	conn.batch, conn.slot = nil, 0 // a batch of a batch's view runs on the connection
	return &Batch{c: &conn, running: 1}
}

// Go runs f in a goroutine of the batch's group, with the Client f must
// use for its commands. In a session, the commands run in the order of
// the goroutines that issued them, as Go started those: a command that
// may hang (a service manager's) is best issued by a goroutine started
// late, so that when the context ends the commands before it have their
// results.
func (b *Batch) Go(f func(cli *Client)) {
	b.mu.Lock()
	b.running++
	v := *b.c
	v.batch, v.slot = b, b.slots
	b.slots++
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.leave()
		f(&v)
	}()
}

// Wait lets the commands run and waits until every goroutine of the group
// has returned.
func (b *Batch) Wait() {
	b.leave()
	b.wg.Wait()
}

// Sessions is the number of SSH sessions the batch has opened so far.
func (b *Batch) Sessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions
}

func (b *Batch) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running--
	b.flushLocked()
}

// run is Run for a goroutine of the group; inline, when not "", is how
// cmd (a script's `sh -c`) runs inside the batch's shell without a shell
// of its own.
func (b *Batch) run(ctx context.Context, slot int, cmd, inline string) ([]byte, []byte, int, error) {
	cl := &call{ctx: ctx, slot: slot, cmd: cmd, inline: inline, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, cl)
	b.running--
	b.flushLocked()
	b.mu.Unlock()
	select {
	case <-cl.done:
		return cl.out, cl.errb, cl.code, cl.err
	case <-ctx.Done():
	}
	// Given up: taken out of the next session if it is still waiting for
	// one (its goroutine runs on). A session under way on this same
	// context ends now too, and gives it its result if it had finished;
	// one on other contexts as well runs on, and its result is dropped.
	b.mu.Lock()
	shared := cl.shared
	for i, p := range b.pending {
		if p == cl {
			b.pending = append(b.pending[:i], b.pending[i+1:]...)
			b.running++
			shared = false
			break
		}
	}
	b.mu.Unlock()
	if shared {
		<-cl.done
		return cl.out, cl.errb, cl.code, cl.err
	}
	return nil, nil, -1, fmt.Errorf("ssh %s: running %s: %w", b.c.addr, abbrev(cmd), ctx.Err())
}

// flushLocked starts a session for the waiting commands once no goroutine
// of the group can add another. Their goroutines count as running from
// here, so no other session starts until one of them waits again.
func (b *Batch) flushLocked() {
	if b.running > 0 || len(b.pending) == 0 {
		return
	}
	calls := b.pending
	b.pending = nil
	slices.SortFunc(calls, func(x, y *call) int { return x.slot - y.slot })
	shared := sameContext(calls)
	for _, cl := range calls {
		cl.shared = shared
	}
	b.running += len(calls)
	b.sessions++
	go b.exec(calls)
}

func (b *Batch) exec(calls []*call) {
	defer func() {
		for _, cl := range calls {
			close(cl.done)
		}
	}()
	ctx, cancel := allDone(calls)
	defer cancel()
	if len(calls) == 1 {
		cl := calls[0]
		cl.out, cl.errb, cl.code, cl.err = b.c.Run(ctx, cl.cmd)
		return
	}
	boundary := newBoundary()
	out, errb, code, err := b.c.Run(ctx, scriptCommand(batchScript(boundary, calls)))
	if err != nil && ctx.Err() != nil {
		// Cut short: the commands whose frames came back whole keep
		// their results; the one under way and those after it fail.
		n, _ := unframe(boundary, out, errb, calls)
		for _, cl := range calls[n:] {
			cl.err = err
		}
		return
	}
	if n, whole := unframe(boundary, out, errb, calls); err == nil && code == 0 && n == len(calls) && whole {
		return
	}
	// Not framed, or the session failed (a command killed the batch's
	// shell; or the connection broke, and each fails again alone).
	for _, cl := range calls {
		cl.out, cl.errb, cl.code, cl.err = b.c.Run(cl.ctx, cl.cmd)
	}
}

// allDone is a context that ends when every call's context has ended (in
// the usual case they share one: then it is that one's).
func allDone(calls []*call) (context.Context, context.CancelFunc) {
	if sameContext(calls) {
		return calls[0].ctx, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(calls[0].ctx))
	left := int64(len(calls))
	stops := make([]func() bool, 0, len(calls))
	for _, cl := range calls {
		stops = append(stops, context.AfterFunc(cl.ctx, func() {
			if atomic.AddInt64(&left, -1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// sameContext says every call has the same context.
func sameContext(calls []*call) bool {
	for _, cl := range calls[1:] {
		if cl.ctx != calls[0].ctx {
			return false
		}
	}
	return true
}

func newBoundary() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "etcdform-" + hex.EncodeToString(b)
}

// batchScript runs each call's command in turn in a subshell (so that an
// exit, a cd, a shift or a variable stays its own) and follows its output
// with a newline, the boundary and its exit status on stdout, and a
// newline and the boundary on stderr. A script runs inline, its arguments
// set with `set --` in the subshell: the batch runs in sh already, and a
// shell of its own (sh -c) was an exec per command, a sixth of a host's
// observation. $0 is the batch's, "etcdform", as the script's own sh -c
// would have it.
func batchScript(boundary string, calls []*call) string {
	var s strings.Builder
	for _, cl := range calls {
		cmd := cl.cmd
		if cl.inline != "" {
			cmd = cl.inline
		}
		fmt.Fprintf(&s, "(\n%s\n) </dev/null; printf '\\n%%s %%d\\n' %s \"$?\"; printf '\\n%%s\\n' %s >&2\n",
			cmd, boundary, boundary)
	}
	return s.String()
}

// inlineScript is script with args as its positional parameters, to run
// in a subshell of a sh whose $0 is "etcdform" (a batch's).
func inlineScript(script string, args ...string) string {
	var b strings.Builder
	b.WriteString("set --")
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(Quote(a))
	}
	b.WriteByte('\n')
	b.WriteString(script)
	return b.String()
}

// unframe gives the calls, in order, their results from a batch
// session's output, as far as it is framed as batchScript frames it: n
// calls got theirs, and whole says the output held nothing else.
func unframe(boundary string, out, errb []byte, calls []*call) (n int, whole bool) {
	osep := []byte("\n" + boundary + " ")
	esep := []byte("\n" + boundary + "\n")
	for _, cl := range calls {
		o, rest, ok := bytes.Cut(out, osep)
		if !ok {
			return n, false
		}
		line, rest, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return n, false
		}
		code, err := strconv.Atoi(string(line))
		if err != nil {
			return n, false
		}
		e, erest, ok := bytes.Cut(errb, esep)
		if !ok {
			return n, false
		}
		cl.out, cl.errb, cl.code = nilIfEmpty(o), nilIfEmpty(e), code
		out, errb = rest, erest
		n++
	}
	return n, len(out) == 0 && len(errb) == 0
}

// nilIfEmpty is b, or nil when empty, as a session of its own gives.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
