package ssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// ErrHostLockHeld is a host lock that another holder has.
var ErrHostLockHeld = errors.New("ssh: the host's apply lock is held")

// DefaultLockFile is where the host apply lock lives.
const DefaultLockFile = "/var/lib/etcdform/apply.lock"

// lockScript takes flock(1) on $1 without waiting, writes the owner $2
// into it, says "locked" and holds the lock until stdin closes: the
// release, or the end of the SSH session (a crashed apply's connection
// drops; sshd closes the pipes, and were the shell killed instead, the
// kernel drops the lock with its file descriptor). Exit 75: held, and
// the file's content names the holder.
const lockScript = `mkdir -p -- "$(dirname -- "$1")" || exit 2
exec 9>>"$1" || exit 2
if ! flock -n 9; then cat -- "$1"; exit 75; fi
printf '%s\n' "$2" >"$1"
echo locked
read -r _ || :
: >"$1"`

// HostLock is a held host lock: an exclusive flock on a file of the
// host, held by a command in its own SSH session.
type HostLock struct {
	addr, path string
	sess       *ssh.Session
	stdin      io.WriteCloser
	done       chan error // the session's end
	once       sync.Once
	err        error
}

// Lock takes the exclusive apply lock file path ("" for DefaultLockFile)
// on the host for owner (a line naming the apply: who, where, when). It
// does not wait: a lock someone holds is ErrHostLockHeld naming the
// holder. The lock is held until Release, or until this connection ends.
func (c *Client) Lock(ctx context.Context, path, owner string) (*HostLock, error) {
	if path == "" {
		path = DefaultLockFile
	}
	owner = strings.ReplaceAll(owner, "\n", " ")
	var stdin io.WriteCloser
	var stdout io.Reader
	var errb bytes.Buffer
	sess, err := c.start(ctx, scriptCommand(lockScript, path, owner), func(sess *ssh.Session) (err error) {
		if stdin, err = sess.StdinPipe(); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if stdout, err = sess.StdoutPipe(); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		sess.Stderr = &errb
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taking the lock %s: %w", path, err)
	}
	type first struct {
		line, rest string
	}
	got := make(chan first, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		if line == "locked\n" {
			got <- first{line: line}
			_, _ = io.Copy(io.Discard, br)
			return
		}
		rest, _ := io.ReadAll(br)
		got <- first{line: line, rest: string(rest)}
	}()
	var f first
	select {
	case f = <-got:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		return nil, fmt.Errorf("ssh %s: taking the lock %s: %w", c.addr, path, ctx.Err())
	}
	done := make(chan error, 1)
	if f.line == "locked\n" {
		go func() { done <- sess.Wait() }()
		return &HostLock{addr: c.addr, path: path, sess: sess, stdin: stdin, done: done}, nil
	}
	werr := sess.Wait()
	sess.Close()
	var exit *ssh.ExitError
	if errors.As(werr, &exit) && exit.ExitStatus() == 75 {
		holder := strings.TrimSpace(f.line + f.rest)
		if holder == "" {
			holder = "an unnamed holder"
		}
		return nil, fmt.Errorf("%w: %s:%s is held by %s", ErrHostLockHeld, c.addr, path, holder)
	}
	code := -1
	if exit != nil {
		code = exit.ExitStatus()
	}
	return nil, c.cmdError("taking the lock "+path, code, append([]byte(f.line+f.rest), errb.Bytes()...))
}

// Check fails when the lock is no longer held: its session ended.
func (l *HostLock) Check() error {
	select {
	case err := <-l.done:
		l.done <- err
		return fmt.Errorf("ssh %s: the lock %s was lost: its session ended (%v)", l.addr, l.path, err)
	default:
		return nil
	}
}

// Release ends the lock's command, which clears the owner and drops the
// lock, and waits for it until ctx ends. It is safe to call more than once.
func (l *HostLock) Release(ctx context.Context) error {
	l.once.Do(func() {
		l.stdin.Close()
		select {
		case err := <-l.done:
			if err != nil {
				l.err = fmt.Errorf("ssh %s: releasing the lock %s: %w", l.addr, l.path, err)
			}
		case <-ctx.Done():
			_ = l.sess.Signal(ssh.SIGKILL)
			l.err = fmt.Errorf("ssh %s: releasing the lock %s: %w", l.addr, l.path, ctx.Err())
		}
		l.sess.Close()
	})
	return l.err
}
