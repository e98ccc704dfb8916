package model

import "strings"

// Upload is one TLS file an UploadFile step writes to a member's host from
// its local source. It never holds the file's bytes.
type Upload struct {
	// Role is "client-ca", "client-cert", "client-key", "peer-ca",
	// "peer-cert" or "peer-key".
	Role   string
	Path   string // on the host
	Source string // local file, read at apply time
	SHA256 string // hex sha256 of the source when planned
	Mode   uint32 // 0600 for keys, 0644 for certificates
}

// IsKey reports whether the file is a private key.
func (u *Upload) IsKey() bool { return strings.HasSuffix(u.Role, "-key") }

// NeedsRestart reports whether etcd needs a restart to use the file.
// etcd 3.6 reads cert-file and key-file again on every new TLS handshake
// (found by experiment on the lab: a replaced server certificate is served
// on the next connection, no restart), but reads trusted-ca-file only at
// start: a new CA bundle takes effect after a restart.
func (u *Upload) NeedsRestart() bool { return strings.HasSuffix(u.Role, "-ca") }
