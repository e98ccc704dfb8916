package e2e

import (
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/internal/pki"
	"github.com/etcdform/etcdform/providers/backupstore/s3test"
)

// backupLab is what the backup e2e tests start from: a lab, the age
// identity their backup blocks encrypt to, and, once startS3 ran, a test
// S3 server on the lab bridge (which the hosts reach) with a credentials
// file holding its keys.
type backupLab struct {
	st       *lab.State
	id       *age.X25519Identity
	srv      *s3test.Server // nil: a file:// destination
	credFile string         // "": no credentials_source
}

// upBackupLab brings up a lab with opts and makes an age identity.
func upBackupLab(t *testing.T, opts lab.Options) *backupLab {
	t.Helper()
	st := labtest.Up(t, opts)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &backupLab{st: st, id: id}
}

// startS3 starts the S3 server on the lab bridge, with bucket "backups",
// and writes its credentials file: later blocks back up to s3://backups/lab.
func (b *backupLab) startS3(t *testing.T) {
	t.Helper()
	b.srv = s3test.NewAt(t, b.st.BridgeAddr, "backups")
	b.credFile = s3CredentialsFile(t)
}

// backupBlock is what a test varies of a backup block.
type backupBlock struct {
	Schedule string // "" means yearly ("0 0 1 1 *"): no job fires while tests run
	On       string // "" means etcd-1
	KeepLast int    // 0 leaves keep_last out
}

// block is an edit of lab.hcl that adds the backup block bb, encrypted to
// b's identity, to s3://backups/lab when b has an S3 server and to
// file:///var/backups/etcd on the host otherwise.
func (b *backupLab) block(bb backupBlock) func(string) string {
	if bb.Schedule == "" {
		bb.Schedule = "0 0 1 1 *"
	}
	if bb.On == "" {
		bb.On = "etcd-1"
	}
	var s strings.Builder
	fmt.Fprintf(&s, "  backup {\n    schedule    = %q\n    on          = [%q]\n", bb.Schedule, bb.On)
	if b.srv != nil {
		s.WriteString("    destination = \"s3://backups/lab\"\n")
	} else {
		s.WriteString("    destination = \"file:///var/backups/etcd\"\n")
	}
	if bb.KeepLast > 0 {
		fmt.Fprintf(&s, "    keep_last   = %d\n", bb.KeepLast)
	}
	fmt.Fprintf(&s, "\n    encryption {\n      recipient = %q\n    }\n", b.id.Recipient())
	if b.srv != nil {
		fmt.Fprintf(&s, "\n    s3 {\n      endpoint   = %q\n      region     = \"us-east-1\"\n      path_style = true\n", b.srv.Endpoint)
		if b.credFile != "" {
			fmt.Fprintf(&s, "      credentials_source = %q\n", b.credFile)
		}
		s.WriteString("    }\n")
	}
	s.WriteString("  }\n")
	return withBackup(s.String())
}

// upTLSLab brings up a TLS lab with opts and loads its CA, which tests use
// to issue new member certificates.
func upTLSLab(t *testing.T, opts lab.Options) (*lab.State, *pki.CA) {
	t.Helper()
	opts.TLS = true
	st := labtest.Up(t, opts)
	ca, err := st.LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	return st, ca
}
