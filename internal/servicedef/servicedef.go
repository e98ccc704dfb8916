// Package servicedef renders the service definition etcdform installs for
// etcd on a new member's host: a systemd unit (Type=notify, LimitNOFILE,
// a dedicated user) or a runit run script, as service.manager says, and
// says where it lives. The planner shows the whole file in the plan and
// apply writes exactly those bytes.
package servicedef

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/textcheck"
)

// LimitNOFILE is the open-file limit etcd runs with: one descriptor per
// client connection and watch stream, plus the backend's files.
const LimitNOFILE = 65536

// RunitDir is runit's service directory, where a service name that is not
// an absolute directory lives.
const RunitDir = "/etc/service"

// Spec is what the definition says.
type Spec struct {
	Manager     string // "systemd" or "runit"
	Name        string // unit name, or runit service name or absolute directory
	Binary      string // etcd's binary
	ConfigFile  string // etcd's config file
	User        string // the user etcd runs as; "root" for no dedicated user
	StopTimeout time.Duration
}

// safe is what a value may hold to go into a unit file or a shell script
// unquoted: the characters the schema allows in paths, names and users.
var safe = regexp.MustCompile(`^[A-Za-z0-9/._+@,=~:-]+$`)

// Path is where the definition of sp lives on the host: the unit file
// /etc/systemd/system/NAME.service, or the runit service's run script.
func Path(manager, name string) string {
	if manager == "runit" {
		if path.IsAbs(name) {
			return path.Join(name, "run")
		}
		return path.Join(RunitDir, name, "run")
	}
	unit := name
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	return path.Join("/etc/systemd/system", unit)
}

// Supported reports whether etcdform can install a service for manager.
func Supported(manager string) bool { return manager == "systemd" || manager == "runit" }

// Render returns the definition's bytes. It refuses a value that could
// break out of its line or its word (the schema refuses such values first).
func Render(sp Spec) ([]byte, error) {
	for what, v := range map[string]string{"service name": sp.Name, "binary": sp.Binary, "config file": sp.ConfigFile, "user": sp.User} {
		if r, _, bad := textcheck.ControlRune(v); bad {
			return nil, fmt.Errorf("servicedef: the %s holds %s", what, textcheck.RuneName(r))
		}
		if !safe.MatchString(v) {
			return nil, fmt.Errorf("servicedef: the %s %q holds a character a service definition cannot carry unquoted", what, v)
		}
	}
	switch sp.Manager {
	case "systemd":
		return systemd(sp), nil
	case "runit":
		return runit(sp), nil
	}
	return nil, fmt.Errorf("servicedef: etcdform installs services for systemd and runit, not %q", sp.Manager)
}

func systemd(sp Spec) []byte {
	var b strings.Builder
	b.WriteString("# etcd, installed by etcdform.\n[Unit]\nDescription=etcd key-value store\nDocumentation=https://etcd.io/docs/\n")
	b.WriteString("After=network-online.target\nWants=network-online.target\n\n[Service]\n")
	// etcd tells systemd it is ready once it serves clients (sd_notify).
	b.WriteString("Type=notify\n")
	fmt.Fprintf(&b, "User=%s\n", sp.User)
	fmt.Fprintf(&b, "ExecStart=%s --config-file %s\n", sp.Binary, sp.ConfigFile)
	b.WriteString("Restart=on-failure\nRestartSec=5s\n")
	if sp.StopTimeout > 0 {
		fmt.Fprintf(&b, "TimeoutStopSec=%d\n", int((sp.StopTimeout+time.Second-1)/time.Second))
	}
	fmt.Fprintf(&b, "LimitNOFILE=%d\n\n[Install]\nWantedBy=multi-user.target\n", LimitNOFILE)
	return []byte(b.String())
}

func runit(sp Spec) []byte {
	user := ""
	if sp.User != "root" {
		user = " -u " + sp.User
	}
	return []byte(fmt.Sprintf(`#!/bin/sh
# etcd under runit, installed by etcdform. chpst sets the open-file limit%s.
mkdir -p /var/log/etcd
exec chpst -o %d%s %s --config-file %s >>/var/log/etcd/etcd.log 2>&1
`, map[bool]string{true: " and the user", false: ""}[user != ""], LimitNOFILE, user, sp.Binary, sp.ConfigFile))
}
