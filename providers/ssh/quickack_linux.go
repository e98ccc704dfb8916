package ssh

import (
	"net"
	"syscall"
)

// quickAck wraps a TCP connection so that every read re-arms Linux's
// TCP_QUICKACK: the segments the host sends are acknowledged at once
// instead of after the delayed-ACK timer (40 ms). sshd sends its non-
// interactive sessions' packets with Nagle's algorithm on, so a small
// packet it writes while an earlier one is unacknowledged waits for that
// ACK: after authentication, sshd's host-keys announcement left its answer
// to the first session open held until the client's delayed ACK, 44 ms
// (seen with strace on the lab's sshd) in every connection's first
// command. Other connections are returned unchanged.
func quickAck(conn net.Conn) net.Conn {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return conn
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return conn
	}
	return &quickAckConn{TCPConn: tc, raw: raw}
}

type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	if n > 0 {
		_ = c.raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	return n, err
}
