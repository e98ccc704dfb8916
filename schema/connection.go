package schema

// Decoding the connection block: the cluster's SSH defaults, a member's
// override on top of them, and the bastion.

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// connection decodes the cluster connection block (base == nil) or a
// member's override on top of base.
func (l *loader) connection(ctx *hcl.EvalContext, blk *hcl.Block, base *Connection, fallback hcl.Range) Connection {
	var conn Connection
	if base == nil {
		conn = Connection{User: DefaultUser, Port: DefaultSSHPort, Timeout: DefaultSSHTimeout, KnownHostsFile: defaultKnownHostsFile()}
	} else {
		conn = *base
		if base.Bastion != nil {
			b := *base.Bastion
			conn.Bastion = &b
		}
	}
	if blk == nil {
		if base == nil {
			l.checkConnection(&conn, nil, nil, nil, fallback)
		}
		return conn
	}
	content := l.content(blk.Body, connectionSchema)
	as := content.Attributes
	if a := l.str(ctx, as, "user", &conn.User); !l.checkValue(a, "Invalid SSH user", "user", conn.User, userProblem(conn.User)) {
		conn.User = ""
	}
	var port int64 = int64(conn.Port)
	if l.integer(ctx, as, "port", 1, 65535, &port) != nil {
		conn.Port = int(port)
	}
	var key string
	keyAttr := l.str(ctx, as, "private_key_file", &key)
	agentAttr := l.boolean(ctx, as, "agent", &conn.Agent)
	if keyAttr != nil {
		conn.PrivateKeyFile = l.localPath(key)
		if agentAttr == nil {
			conn.Agent = false
		}
	} else if agentAttr != nil && conn.Agent {
		conn.PrivateKeyFile = ""
	}
	var kh string
	khAttr := l.str(ctx, as, "known_hosts_file", &kh)
	if khAttr != nil {
		conn.KnownHostsFile = l.localPath(kh)
	}
	l.boolean(ctx, as, "sudo", &conn.Sudo)
	l.duration(ctx, as, "timeout", time.Second, &conn.Timeout)
	var bastionAttr *hcl.Attribute
	if bb := l.single(content, "bastion"); bb != nil {
		bc := l.content(bb.Body, bastionSchema)
		b := &Bastion{Port: DefaultSSHPort, User: conn.User}
		if a := l.str(ctx, bc.Attributes, "host", &b.Host); a != nil {
			b.Host = l.checkHost(a, "bastion host", b.Host)
		}
		var bport int64 = DefaultSSHPort
		if l.integer(ctx, bc.Attributes, "port", 1, 65535, &bport) != nil {
			b.Port = int(bport)
		}
		if a := l.str(ctx, bc.Attributes, "user", &b.User); !l.checkValue(a, "Invalid SSH user", "bastion user", b.User, userProblem(b.User)) {
			b.User = ""
		}
		var bkey string
		if bastionAttr = l.str(ctx, bc.Attributes, "private_key_file", &bkey); bastionAttr != nil {
			b.PrivateKeyFile = l.localPath(bkey)
		}
		conn.Bastion = b
	}
	if !l.rejected[as["private_key_file"]] && !l.rejected[as["known_hosts_file"]] {
		l.checkConnection(&conn, keyAttr, khAttr, bastionAttr, blk.DefRange)
	}
	return conn
}

// checkConnection checks credentials and the files they name. It runs
// for the cluster defaults and again for each member override.
func (l *loader) checkConnection(conn *Connection, keyAttr, khAttr, bastionAttr *hcl.Attribute, rng hcl.Range) {
	switch {
	case conn.PrivateKeyFile != "" && conn.Agent:
		r := rng
		if keyAttr != nil {
			r = keyAttr.Range
		}
		l.diags = append(l.diags, errAt(r, "Conflicting SSH credentials",
			"Set either private_key_file or agent = true, not both.")...)
	case conn.PrivateKeyFile == "" && !conn.Agent:
		l.diags = append(l.diags, errAt(rng, "No SSH credentials",
			"The connection needs private_key_file or agent = true.")...)
	}
	if keyAttr != nil && conn.PrivateKeyFile != "" {
		l.mustExist(conn.PrivateKeyFile, keyAttr.Expr.Range(), "private key file")
	}
	// The default known_hosts (~/.ssh/known_hosts) belongs to whoever runs
	// plan: validate checks the language, and plan reads the file.
	if khAttr != nil {
		l.mustExist(conn.KnownHostsFile, khAttr.Expr.Range(), "known_hosts file")
	}
	if bastionAttr != nil {
		l.mustExist(conn.Bastion.PrivateKeyFile, bastionAttr.Expr.Range(), "bastion private key file")
	}
}
