package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults applied by Dial to a Config's zero fields.
const (
	DefaultPort    = 22
	DefaultTimeout = 10 * time.Second
)

// Sentinel errors returned (wrapped, naming the host) by Dial.
var (
	// ErrUnreachable: no TCP connection could be made to the host.
	ErrUnreachable = errors.New("ssh: host unreachable")
	// ErrAuth: the host refused every offered key.
	ErrAuth = errors.New("ssh: authentication failed")
	// ErrUnknownHost: the known_hosts file has no key for the host.
	ErrUnknownHost = errors.New("ssh: host not in known_hosts")
	// ErrHostKeyMismatch: the host presented a key other than the one in
	// known_hosts (or a revoked one). This may be an attack.
	ErrHostKeyMismatch = errors.New("ssh: host key mismatch")
	// ErrKeyPermissions: the private key file is readable or writable by
	// its group or others. Dial refuses it before connecting.
	ErrKeyPermissions = errors.New("ssh: unprotected private key file")
)

// Config says how to reach one host.
type Config struct {
	Host string
	Port int // DefaultPort when zero
	User string
	// PrivateKeyFile is an unencrypted private key (OpenSSH or PEM). Use
	// Agent for a passphrase-protected key.
	PrivateKeyFile string
	// Agent offers the keys of the agent at $SSH_AUTH_SOCK, before
	// PrivateKeyFile's.
	Agent bool
	// KnownHostsFile is required: host keys are always verified.
	KnownHostsFile string
	// Sudo runs every command as `sudo -n sh -c CMD`.
	Sudo bool
	// Timeout bounds connecting and the handshake (DefaultTimeout when
	// zero); the context passed to Dial bounds it too.
	Timeout time.Duration
	// Bastion is an optional jump host: the connection to Host is tunnelled
	// through it. Its empty User, PrivateKeyFile, KnownHostsFile and
	// Timeout are taken from this Config; Sudo is ignored.
	Bastion *Config
}

// Addr is host:port.
func (c Config) Addr() string {
	port := c.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// Client is an open SSH connection to one host. It is safe for concurrent
// use; every call opens its own session.
type Client struct {
	addr    string
	sudo    bool
	conn    *ssh.Client
	bastion *Client // nil without a jump host
	batch   *Batch  // set in a Batch's view of the client: commands join its sessions
	slot    int     // in a Batch's view, which of its goroutines uses it
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes is a copy of what was written (nil for nothing, as a bytes.Buffer's).
func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() == 0 {
		return nil
	}
	return bytes.Clone(l.b.Bytes())
}

// Dial connects to cfg.Host, through cfg.Bastion when set, and verifies
// its host key. Errors name the host:port and wrap ErrUnreachable,
// ErrAuth, ErrUnknownHost or ErrHostKeyMismatch where one of those is the
// cause; other errors are configuration problems (no known_hosts file, an
// unreadable key) or a failed handshake.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Host == "" {
		return nil, errors.New("ssh: no host given")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	addr := cfg.Addr()
	if cfg.Bastion == nil {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: %w: %w", addr, ErrUnreachable, err)
		}
		cl, err := handshake(ctx, quickAck(conn), addr, cfg)
		if err != nil {
			return nil, err
		}
		return &Client{addr: addr, sudo: cfg.Sudo, conn: cl}, nil
	}

	b := *cfg.Bastion
	if b.User == "" {
		b.User = cfg.User
	}
	if b.PrivateKeyFile == "" {
		b.PrivateKeyFile = cfg.PrivateKeyFile
	}
	if b.KnownHostsFile == "" {
		b.KnownHostsFile = cfg.KnownHostsFile
	}
	if b.Timeout == 0 {
		b.Timeout = cfg.Timeout
	}
	b.Sudo = false
	bastion, err := Dial(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: via jump host: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := bastion.conn.DialContext(ctx, "tcp", addr)
	if err != nil {
		bastion.Close()
		return nil, fmt.Errorf("ssh %s: via jump host %s: %w: %w", addr, bastion.addr, ErrUnreachable, err)
	}
	cl, err := handshake(ctx, conn, addr, cfg)
	if err != nil {
		bastion.Close()
		return nil, fmt.Errorf("%w (via jump host %s)", err, bastion.addr)
	}
	return &Client{addr: addr, sudo: cfg.Sudo, conn: cl, bastion: bastion}, nil
}

// handshake runs the SSH handshake over conn, giving up when ctx ends.
// It takes ownership of conn.
func handshake(ctx context.Context, conn net.Conn, addr string, cfg Config) (*ssh.Client, error) {
	hk, err := newHostKeyChecker(cfg.KnownHostsFile, addr)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	auth, closeAuth, err := authMethods(cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	defer closeAuth()
	cc := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth,
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms,
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cc)
	if !stop() { // ctx ended during the handshake
		if err == nil {
			c.Close()
		}
		return nil, fmt.Errorf("ssh %s: handshake: %w", addr, ctx.Err())
	}
	if err != nil {
		conn.Close()
		switch {
		case hk.err != nil:
			return nil, hk.err
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("ssh %s: %w as %q: %w", addr, ErrAuth, cfg.User, err)
		}
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// checkKeyMode refuses a private key file that others than its owner may
// read or write, as OpenSSH does ("UNPROTECTED PRIVATE KEY FILE").
func checkKeyMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading private key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: private_key_file %s has mode %04o, so others may read or change it; OpenSSH refuses such a key, and so does etcdform. Run chmod 600 %s", ErrKeyPermissions, path, perm, path)
	}
	return nil
}

// authMethods builds the single publickey method from the agent's keys and
// the key file (x/crypto/ssh tries each method kind only once).
func authMethods(cfg Config) ([]ssh.AuthMethod, func(), error) {
	var fileSigner ssh.Signer
	if cfg.PrivateKeyFile != "" {
		if err := checkKeyMode(cfg.PrivateKeyFile); err != nil {
			return nil, nil, err
		}
		pem, err := os.ReadFile(cfg.PrivateKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("reading private key: %w", err)
		}
		fileSigner, err = ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, nil, fmt.Errorf("private key %s is passphrase-protected: load it into ssh-agent and set agent = true", cfg.PrivateKeyFile)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("parsing private key %s: %w", cfg.PrivateKeyFile, err)
		}
	}
	var agentClient agent.ExtendedAgent
	closeAuth := func() {}
	if cfg.Agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, nil, errors.New("agent authentication asked for but SSH_AUTH_SOCK is not set")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to ssh-agent: %w", err)
		}
		agentClient = agent.NewClient(conn)
		closeAuth = func() { conn.Close() }
	}
	if fileSigner == nil && agentClient == nil {
		closeAuth()
		return nil, nil, errors.New("no credentials: set a private key file or use the agent")
	}
	signers := func() ([]ssh.Signer, error) {
		var s []ssh.Signer
		if agentClient != nil {
			as, err := agentClient.Signers()
			if err != nil {
				return nil, fmt.Errorf("listing ssh-agent keys: %w", err)
			}
			s = append(s, as...)
		}
		if fileSigner != nil {
			s = append(s, fileSigner)
		}
		return s, nil
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(signers)}, closeAuth, nil
}

// Addr is the host:port this client is connected to.
func (c *Client) Addr() string { return c.addr }

// Wait returns when the connection has ended: closed by either side, or
// found dead by TCP keepalive.
func (c *Client) Wait() error {
	return c.conn.Wait()
}

// Close closes the connection, and the jump host's.
func (c *Client) Close() error {
	err := c.conn.Close()
	if c.bastion != nil {
		err = errors.Join(err, c.bastion.Close())
	}
	return err
}

// Run runs cmd through the remote user's shell (under `sudo -n sh -c` when
// the Config asked for sudo). err is only for transport problems and a
// cancelled ctx; a command that ran and failed reports its exitCode.
func (c *Client) Run(ctx context.Context, cmd string) (stdout, stderr []byte, exitCode int, err error) {
	return c.RunStdin(ctx, cmd, nil)
}

// RunStdin is Run with stdin fed from r (nil for none).
//
// When ctx ends first, RunStdin returns ctx's error at once, with what
// stdout and stderr had received by then, asks sshd to kill the command
// and closes the session. OpenSSH before 9.8 refuses
// signals to root sessions, so the command may live on until it next
// reads stdin or writes output.
func (c *Client) RunStdin(ctx context.Context, cmd string, r io.Reader) (stdout, stderr []byte, exitCode int, err error) {
	if c.batch != nil && r == nil {
		return c.batch.run(ctx, c.slot, cmd, "")
	}
	var out, errb lockedBuffer // written by the session's goroutines, which may outlive a cancelled wait
	sess, err := c.start(ctx, cmd, func(sess *ssh.Session) error {
		sess.Stdout, sess.Stderr = &out, &errb
		if r != nil {
			sess.Stdin = r
		}
		return nil
	})
	if err != nil {
		return nil, nil, -1, err
	}
	defer sess.Close()
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Ask sshd to kill the command's process group, and stop waiting:
		// Wait only returns once sshd reports the command's end.
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		return out.Bytes(), errb.Bytes(), -1, fmt.Errorf("ssh %s: running %s: %w", c.addr, abbrev(cmd), ctx.Err())
	}
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return out.Bytes(), errb.Bytes(), 0, nil
	case errors.As(err, &exit) && exit.Signal() == "":
		return out.Bytes(), errb.Bytes(), exit.ExitStatus(), nil
	case errors.As(err, &exit):
		return out.Bytes(), errb.Bytes(), -1, fmt.Errorf("ssh %s: %s killed by signal %s", c.addr, abbrev(cmd), exit.Signal())
	}
	return out.Bytes(), errb.Bytes(), -1, fmt.Errorf("ssh %s: running %s: %w", c.addr, abbrev(cmd), err)
}

// start opens a session, lets setup attach its input and output, and
// starts cmd on it, giving up when ctx ends. x/crypto/ssh waits for the
// server's answer to the session open and to the exec request without a
// deadline, and a host cut off mid-connection (a partition, a dead path)
// never answers: the wait would last until TCP gives up, a quarter of an
// hour. Given up, the opening goes on in the background until the
// connection ends (Close); a session the server opens after all is
// killed and closed.
func (c *Client) start(ctx context.Context, cmd string, setup func(*ssh.Session) error) (*ssh.Session, error) {
	type started struct {
		sess *ssh.Session
		err  error
	}
	ch := make(chan started, 1)
	go func() {
		sess, err := c.conn.NewSession()
		if err != nil {
			ch <- started{err: fmt.Errorf("ssh %s: opening session: %w", c.addr, err)}
			return
		}
		if err := setup(sess); err != nil {
			sess.Close()
			ch <- started{err: fmt.Errorf("ssh %s: %w", c.addr, err)}
			return
		}
		if err := sess.Start(c.command(cmd)); err != nil {
			sess.Close()
			ch <- started{err: fmt.Errorf("ssh %s: starting %s: %w", c.addr, abbrev(cmd), err)}
			return
		}
		ch <- started{sess: sess}
	}()
	select {
	case s := <-ch:
		return s.sess, s.err
	case <-ctx.Done():
		go func() {
			if s := <-ch; s.sess != nil {
				_ = s.sess.Signal(ssh.SIGKILL)
				s.sess.Close()
			}
		}()
		return nil, fmt.Errorf("ssh %s: starting %s: the host did not answer: %w", c.addr, abbrev(cmd), ctx.Err())
	}
}

// command is what is sent to the server for cmd.
func (c *Client) command(cmd string) string {
	if c.sudo {
		return sudoCommand(cmd)
	}
	return cmd
}

func sudoCommand(cmd string) string { return "sudo -n sh -c " + Quote(cmd) }

// abbrev shortens a command for an error message.
func abbrev(cmd string) string {
	cmd = strings.Join(strings.Fields(cmd), " ")
	if len(cmd) > 60 {
		cmd = cmd[:57] + "..."
	}
	return strconv.Quote(cmd)
}

// Quote quotes s as one word for a POSIX shell. Words made only of safe
// characters are returned unchanged.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// cmdError describes a command that exited non-zero.
func (c *Client) cmdError(what string, code int, stderr []byte) error {
	msg := strings.TrimSpace(string(stderr))
	if msg == "" {
		return fmt.Errorf("ssh %s: %s: exit status %d", c.addr, what, code)
	}
	return fmt.Errorf("ssh %s: %s: exit status %d: %s", c.addr, what, code, msg)
}
