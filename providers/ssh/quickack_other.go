//go:build !linux

package ssh

import "net"

// quickAck is the connection unchanged: TCP_QUICKACK is Linux's.
func quickAck(conn net.Conn) net.Conn { return conn }
