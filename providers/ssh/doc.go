// Package ssh is etcdform's way onto a member's host: it dials over SSH
// (key file or agent, an optional jump host, host keys always checked
// against known_hosts), runs commands with optional sudo, reads and
// atomically writes files, and drives the service manager (systemd, runit
// or user-given commands) that runs etcd.
//
// Every error names the host it happened on. Dial errors can be told apart
// with errors.Is: ErrUnreachable, ErrAuth, ErrUnknownHost and
// ErrHostKeyMismatch.
package ssh
