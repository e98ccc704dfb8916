package servicedef

import (
	"strings"
	"testing"
	"time"
)

// TestRender checks the keys each definition must carry and that a value
// that could break out of its line is refused.
func TestRender(t *testing.T) {
	sp := Spec{Manager: "systemd", Name: "etcd", Binary: "/usr/local/bin/etcd", ConfigFile: "/etc/etcd/etcd.conf.yml", User: "etcd", StopTimeout: 39 * time.Second}
	unit, err := Render(sp)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify\n", "User=etcd\n", "LimitNOFILE=65536\n", "ExecStart=/usr/local/bin/etcd --config-file /etc/etcd/etcd.conf.yml\n", "TimeoutStopSec=39\n", "WantedBy=multi-user.target\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q:\n%s", want, unit)
		}
	}
	if p := Path("systemd", "etcd"); p != "/etc/systemd/system/etcd.service" {
		t.Errorf("Path = %s", p)
	}
	sp.Manager = "runit"
	run, err := Render(sp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(run), "exec chpst -o 65536 -u etcd /usr/local/bin/etcd --config-file /etc/etcd/etcd.conf.yml") || !strings.HasPrefix(string(run), "#!/bin/sh\n") {
		t.Errorf("run script:\n%s", run)
	}
	sp.User = "root"
	if run, _ := Render(sp); strings.Contains(string(run), "-u ") {
		t.Errorf("a root service changes user:\n%s", run)
	}
	if p := Path("runit", "/srv/sv/etcd"); p != "/srv/sv/etcd/run" {
		t.Errorf("Path = %s", p)
	}
	for _, bad := range []Spec{
		{Manager: "runit", Name: "etcd", Binary: "/usr/bin/etcd\nrm -rf /", ConfigFile: "/c", User: "root"},
		{Manager: "systemd", Name: "etcd", Binary: "/usr/bin/etcd;id", ConfigFile: "/c", User: "root"},
		{Manager: "command", Name: "etcd", Binary: "/b", ConfigFile: "/c", User: "root"},
	} {
		if _, err := Render(bad); err == nil {
			t.Errorf("Render(%+v) accepted", bad)
		}
	}
}
