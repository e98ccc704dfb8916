package ssh

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Batch runs the commands of independent reads on one host in as few SSH
// sessions as possible: each round of commands that its goroutines ask for
// goes to the host as one script in one session, where the commands run
// at once and their outputs come back together.
//
// An SSH session costs a channel open, an exec request, window adjusts,
// the exit status and the close, each a packet and a syscall on both ends,
// and a fork of sshd's session child; observing a host asks a dozen small
// questions (its config file, service state, process start, binary
// version, data dir, certificates, backup job files), so most of a plan's
// time and CPU went to sessions, not to the answers.
//
// A Batch runs functions (Go) that read through its Client. A round is
// sent when every function still running waits on a command, so it never
// waits on a timer: the functions' first commands go as one round, the
// commands they ask next (after reading the first answers) as the next.
// A function must not wait on anything but the Batch's Client's commands
// (or on nothing), or the round it would complete is never sent.
//
// Commands with stdin are not batched (they run in their own session). If
// the host cannot run the round's script (no base64, an output that does
// not parse), each command of that round runs in its own session instead,
// so a Batch changes how many sessions are opened, never the answers.
type Batch struct {
	base   *Client
	client *Client // base with batch set: what the functions read through

	mu      sync.Mutex
	active  int // functions started and not returned
	waiting []*batchCall
	wg      sync.WaitGroup

	sessions int // sessions opened (rounds sent, plus fallbacks), for tests and benchmarks
}

type batchCall struct {
	ctx  context.Context
	cmd  string
	done chan batchResult
}

type batchResult struct {
	stdout, stderr []byte
	code           int
	err            error
}

// NewBatch returns a Batch over c's connection.
func (c *Client) NewBatch() *Batch {
	b := &Batch{base: c}
	cp := *c
	cp.batch = b
	b.client = &cp
	return b
}

// Client is the connection the Batch's functions read through: its
// commands wait for their round.
func (b *Batch) Client() *Client { return b.client }

// Go runs f in its own goroutine as one of the Batch's functions.
func (b *Batch) Go(f func()) {
	b.mu.Lock()
	b.active++
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() {
			b.mu.Lock()
			b.active--
			b.sendIfReadyLocked()
			b.mu.Unlock()
		}()
		f()
	}()
}

// Wait waits for every function started with Go to return.
func (b *Batch) Wait() { b.wg.Wait() }

// Sessions is the number of SSH sessions the Batch opened so far.
func (b *Batch) Sessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions
}

// run queues cmd for the next round and waits for its answer.
func (b *Batch) run(ctx context.Context, cmd string) ([]byte, []byte, int, error) {
	call := &batchCall{ctx: ctx, cmd: cmd, done: make(chan batchResult, 1)}
	b.mu.Lock()
	b.waiting = append(b.waiting, call)
	b.sendIfReadyLocked()
	b.mu.Unlock()
	select {
	case r := <-call.done:
		return r.stdout, r.stderr, r.code, r.err
	case <-ctx.Done():
		b.mu.Lock()
		for i, w := range b.waiting {
			if w == call {
				b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
				break
			}
		}
		// This function no longer waits: the others may make a round.
		b.sendIfReadyLocked()
		b.mu.Unlock()
		return nil, nil, -1, fmt.Errorf("ssh %s: running %s: %w", b.base.addr, abbrev(cmd), ctx.Err())
	}
}

// sendIfReadyLocked sends the waiting commands as a round when every
// running function waits on one (or when commands wait outside any
// function: a direct use of Client). b.mu is held.
func (b *Batch) sendIfReadyLocked() {
	if len(b.waiting) == 0 || len(b.waiting) < b.active {
		return
	}
	round := b.waiting
	b.waiting = nil
	b.sessions++ // one session for the round (runRound counts fallbacks)
	go b.runRound(round)
}

// runRound runs one round's commands in one session and hands each call
// its answer.
func (b *Batch) runRound(round []*batchCall) {
	if len(round) == 1 {
		c := round[0]
		stdout, stderr, code, err := b.base.RunStdin(c.ctx, c.cmd, nil)
		c.done <- batchResult{stdout, stderr, code, err}
		return
	}
	// The round lives as long as its longest-lived caller.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, c := range round {
			select {
			case <-c.ctx.Done():
			case <-stop:
				return
			}
		}
		cancel()
	}()
	cmds := make([]string, len(round))
	for i, c := range round {
		cmds[i] = c.cmd
	}
	out, _, code, err := b.base.RunStdin(ctx, "sh -s", strings.NewReader(batchScript(cmds)))
	var res []batchResult
	if err == nil && code == 0 {
		res, err = parseBatch(out, len(round))
	} else if err == nil {
		err = fmt.Errorf("exit status %d", code)
	}
	if err != nil && ctx.Err() == nil {
		// The host could not run the round as one script: each command in
		// its own session, as without a Batch.
		b.mu.Lock()
		b.sessions += len(round)
		b.mu.Unlock()
		var wg sync.WaitGroup
		for _, c := range round {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stdout, stderr, code, err := b.base.RunStdin(c.ctx, c.cmd, nil)
				c.done <- batchResult{stdout, stderr, code, err}
			}()
		}
		wg.Wait()
		return
	}
	for i, c := range round {
		if err != nil {
			c.done <- batchResult{nil, nil, -1, fmt.Errorf("ssh %s: running %s: %w", b.base.addr, abbrev(c.cmd), err)}
			continue
		}
		c.done <- res[i]
	}
}

// batchScript is the POSIX sh script, read from stdin by `sh -s`, that
// runs cmds at once, each as `sh -c CMD` with no stdin, and then prints
// for each, in order, a line "N EXIT" and its stdout and stderr as one
// base64 line each.
func batchScript(cmds []string) string {
	var b strings.Builder
	b.WriteString("t=$(mktemp -d) || exit 70\ntrap 'rm -rf \"$t\"' EXIT\n")
	for i, c := range cmds {
		fmt.Fprintf(&b, "(sh -c %s </dev/null >\"$t/%d.o\" 2>\"$t/%d.e\"; echo $? >\"$t/%d.c\") </dev/null &\n", Quote(c), i, i, i)
	}
	b.WriteString("wait\n")
	fmt.Fprintf(&b, "i=0\nwhile [ $i -lt %d ]; do\n", len(cmds))
	b.WriteString("  printf '%s %s\\n' \"$i\" \"$(cat \"$t/$i.c\")\" || exit 71\n")
	b.WriteString("  base64 -w0 <\"$t/$i.o\" || exit 72\n  echo\n")
	b.WriteString("  base64 -w0 <\"$t/$i.e\" || exit 72\n  echo\n")
	b.WriteString("  i=$((i+1))\ndone\n")
	return b.String()
}

// parseBatch reads batchScript's output for n commands.
func parseBatch(out []byte, n int) ([]batchResult, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	line := func() (string, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return "", err
			}
			return "", errors.New("batch output ended early")
		}
		return sc.Text(), nil
	}
	res := make([]batchResult, n)
	for i := range n {
		head, err := line()
		if err != nil {
			return nil, err
		}
		f := strings.Fields(head)
		if len(f) != 2 || f[0] != strconv.Itoa(i) {
			return nil, fmt.Errorf("batch output: %q is not the head of command %d", head, i)
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("batch output: exit status %q of command %d", f[1], i)
		}
		var parts [2][]byte
		for k := range parts {
			l, err := line()
			if err != nil {
				return nil, err
			}
			if parts[k], err = base64.StdEncoding.DecodeString(l); err != nil {
				return nil, fmt.Errorf("batch output of command %d: %w", i, err)
			}
		}
		res[i] = batchResult{stdout: parts[0], stderr: parts[1], code: code}
	}
	return res, nil
}
