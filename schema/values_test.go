package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// hostileConfig builds main.hcl from default blocks and a case's lines:
// a case line replaces the default line of the same attribute in its
// block; the blocks bastion, s3, encryption and tls exist only when a case
// names them. The line marked "# HERE" is the one the diagnostic must
// point at.
func hostileConfig(lines map[string]string) string {
	defaults := map[string][]string{
		"cluster":    {},
		"connection": {`private_key_file = "id"`, `known_hosts_file = "kh"`},
		"service":    {`manager = "runit"`},
		"backup":     {`schedule = "@daily"`, `on = ["etcd-1"]`, `destination = "file:///var/backups/etcd"`, `allow_unencrypted = true`},
		"member":     {`host = "10.0.0.1"`},
	}
	block := func(name string) string {
		var out []string
		override := map[string]bool{}
		for _, l := range strings.Split(lines[name], "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
				attr, _, _ := strings.Cut(l, "=")
				override[strings.TrimSpace(attr)] = true
			}
		}
		for _, l := range defaults[name] {
			attr, _, _ := strings.Cut(l, "=")
			if !override[strings.TrimSpace(attr)] {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	opt := func(name, body string) string {
		if _, ok := lines[name]; !ok {
			return ""
		}
		return name + " {\n" + body + "\n}\n"
	}
	tls := ""
	if _, ok := lines["tls"]; ok {
		tls = "tls {\npeer {\n" + block("tls") + "\n}\n}\n"
	}
	return `variable "h" {
  default = "10.0.0.1\n* * * * * root id"
}
cluster "c" {
` + block("cluster") + `
connection {
` + block("connection") + "\n" + opt("bastion", block("bastion")) + `}
service {
` + block("service") + `
}
backup {
` + block("backup") + "\n" + opt("s3", block("s3")) + opt("encryption", block("encryption")) + `}
` + tls + `member "etcd-1" {
` + block("member") + `
}
}
`
}

// Every string that reaches a file or a command on a host is refused when
// it holds a control character, and the values that name hosts, paths,
// services and destinations when they hold what their target would read
// specially; each diagnostic points at the attribute's expression.
func TestHostileValues(t *testing.T) {
	cases := map[string]struct {
		lines   map[string]string
		summary string
		detail  string
	}{
		"reported payload in destination": {lines: map[string]string{"backup": `destination = "file:///var/backups/x\n* * * * * root touch /tmp/pwned #" # HERE`},
			summary: "Invalid character in value", detail: "The destination contains a newline (U+000A) at character 22."},
		"carriage return in destination": {lines: map[string]string{"backup": `destination = "file:///var/backups/x\r" # HERE`},
			summary: "Invalid character in value", detail: "a carriage return (U+000D)"},
		"NUL in destination": {lines: map[string]string{"backup": `destination = "file:///var/backups/x\u0000" # HERE`},
			summary: "Invalid character in value", detail: "a NUL character (U+0000)"},
		"bidi override in destination": {lines: map[string]string{"backup": `destination = "file:///var/backups/\u202Ecte" # HERE`},
			summary: "Invalid character in value", detail: "a bidirectional text control (U+202E)"},
		"command substitution in destination": {lines: map[string]string{"backup": `destination = "file:///var/backups/$(id)" # HERE`},
			summary: "Invalid backup destination", detail: `contains '$'`},
		"traversal in destination": {lines: map[string]string{"backup": `destination = "file:///var/backups/../../etc" # HERE`},
			summary: "Invalid backup destination", detail: `is not in clean form`},
		"relative file destination": {lines: map[string]string{"backup": `destination = "file://backups" # HERE`},
			summary: "Invalid backup destination", detail: `must be absolute`},
		"bad bucket": {lines: map[string]string{"backup": `destination = "s3://Bad_Bucket/x" # HERE`},
			summary: "Invalid backup destination", detail: `has the bucket "Bad_Bucket"`},
		"backtick in s3 prefix": {lines: map[string]string{"backup": "destination = \"s3://bucket/`id`\" # HERE"},
			summary: "Invalid backup destination", detail: "containing '`'"},
		"newline in s3 region": {lines: map[string]string{"backup": `destination = "s3://bucket/etcd"`, "s3": `region = "eu\n* * * * * root id" # HERE`},
			summary: "Invalid character in value", detail: "The region contains a newline (U+000A) at character 3."},
		"semicolon in s3 region": {lines: map[string]string{"backup": `destination = "s3://bucket/etcd"`, "s3": `region = "eu;id" # HERE`},
			summary: "Invalid S3 region", detail: "contains ';'"},
		"newline in s3 endpoint": {lines: map[string]string{"backup": `destination = "s3://bucket/etcd"`, "s3": `endpoint = "https://s3.example\n* * * * * root id" # HERE`},
			summary: "Invalid character in value", detail: "The endpoint contains a newline"},
		"shell in s3 endpoint": {lines: map[string]string{"backup": `destination = "s3://bucket/etcd"`, "s3": `endpoint = "https://s3.example;id" # HERE`},
			summary: "Invalid S3 endpoint", detail: "has a host that contains ';'"},
		"newline between schedule fields": {lines: map[string]string{"backup": `schedule = "0 0 * *\n*" # HERE`},
			summary: "Invalid character in value", detail: "The schedule contains a newline"},
		"tab in schedule": {lines: map[string]string{"backup": `schedule = "0 0 * *\t*" # HERE`},
			summary: "Invalid character in value", detail: "a tab (U+0009)"},
		"newline in recipient": {lines: map[string]string{"encryption": `recipient = "age1qqqqqqqqqqqqqqqqqqqqqqqqqq\nx" # HERE`},
			summary: "Invalid character in value", detail: "The recipient contains a newline"},
		"newline in host": {lines: map[string]string{"member": `host = "10.0.0.1\n* * * * * root id" # HERE`},
			summary: "Invalid character in value", detail: "The host contains a newline"},
		"newline in host from a variable": {lines: map[string]string{"member": `host = var.h # HERE`},
			summary: "Invalid character in value", detail: "The host contains a newline"},
		"DEL in host": {lines: map[string]string{"member": `host = "10.0.0.1\u007f" # HERE`},
			summary: "Invalid character in value", detail: "a DEL character (U+007F)"},
		"empty host": {lines: map[string]string{"member": `host = "" # HERE`},
			summary: "Invalid host", detail: `The host "" is empty.`},
		"semicolon in host": {lines: map[string]string{"member": `host = "10.0.0.1;reboot" # HERE`},
			summary: "Invalid host", detail: "contains ';'"},
		"space in host": {lines: map[string]string{"member": `host = "a b" # HERE`},
			summary: "Invalid host", detail: "contains ' '"},
		"option as host": {lines: map[string]string{"member": `host = "-oProxyCommand=id" # HERE`},
			summary: "Invalid host", detail: "starts or ends with '-'"},
		"IPv4 in brackets": {lines: map[string]string{"member": `host = "[10.0.0.1]" # HERE`},
			summary: "Invalid host", detail: "has brackets"},
		"bad IPv4": {lines: map[string]string{"member": `host = "10.0.0.300" # HERE`},
			summary: "Invalid host", detail: "neither an IP address nor a DNS name"},
		"newline in peer URL": {lines: map[string]string{"member": `peer_url = "http://10.0.0.1:2380\n" # HERE`},
			summary: "Invalid character in value", detail: "The peer_url contains a newline"},
		"semicolon in peer URL host": {lines: map[string]string{"member": `peer_url = "http://a;b:2380" # HERE`},
			summary: "Invalid URL", detail: "has a host that contains ';'"},
		"line separator in client URL": {lines: map[string]string{"member": `client_url = "http://10.0.0.1:2379\u2028" # HERE`},
			summary: "Invalid character in value", detail: "a line separator (U+2028)"},
		"IPv6 URL without brackets": {lines: map[string]string{"member": `peer_url = "http://fd00::2:2380" # HERE`},
			summary: "Invalid URL", detail: "Write an IPv6 address in brackets"},
		"semicolon in service name": {lines: map[string]string{"service": `name = "etcd;reboot" # HERE`},
			summary: "Invalid service name", detail: "contains ';'"},
		"traversal in service name": {lines: map[string]string{"service": `name = "../etcd" # HERE`},
			summary: "Invalid service name", detail: `starts with '.'`},
		"newline in service name": {lines: map[string]string{"service": `name = "etcd\nx" # HERE`},
			summary: "Invalid character in value", detail: "The name contains a newline"},
		"shell in binary": {lines: map[string]string{"service": `binary = "/usr/local/bin/etcd;id" # HERE`},
			summary: "Invalid path on host", detail: "contains ';'"},
		"relative binary": {lines: map[string]string{"service": `binary = "bin/etcd" # HERE`},
			summary: "Relative path on host", detail: "must be absolute"},
		"unclean binary": {lines: map[string]string{"service": `binary = "/usr/local/bin/../etcd" # HERE`},
			summary: "Invalid path on host", detail: `write "/usr/local/etcd"`},
		"YAML in config file": {lines: map[string]string{"service": `config_file = "/etc/etcd/etcd.conf.yml\nenable-pprof: true" # HERE`},
			summary: "Invalid character in value", detail: "The config_file contains a newline"},
		"command substitution in config file": {lines: map[string]string{"service": `config_file = "/etc/etcd/$(id).yml" # HERE`},
			summary: "Invalid path on host", detail: "contains '$'"},
		"backtick in data dir": {lines: map[string]string{"service": "data_dir = \"/var/lib/etcd`id`\" # HERE"},
			summary: "Invalid path on host", detail: "contains '`'"},
		"trailing slash in data dir": {lines: map[string]string{"service": `data_dir = "/var/lib/etcd/" # HERE`},
			summary: "Invalid path on host", detail: "is not in clean form"},
		"next-line in data dir": {lines: map[string]string{"service": `data_dir = "/var/lib/etcd\u0085" # HERE`},
			summary: "Invalid character in value", detail: "a next-line character (U+0085)"},
		"newline in start command": {lines: map[string]string{"service": `manager = "command"
			stop_command = "sv down etcd"
			status_command = "sv status etcd"
			start_command = "sv up etcd\nreboot" # HERE`},
			summary: "Invalid character in value", detail: "The start_command contains a newline"},
		"newline in user": {lines: map[string]string{"connection": `user = "root\nx" # HERE`},
			summary: "Invalid character in value", detail: "The user contains a newline"},
		"shell in user": {lines: map[string]string{"connection": `user = "root;id" # HERE`},
			summary: "Invalid SSH user", detail: "contains ';'"},
		"option as user": {lines: map[string]string{"connection": `user = "-oProxyCommand" # HERE`},
			summary: "Invalid SSH user", detail: "starts with '-'"},
		"carriage return in key file": {lines: map[string]string{"connection": `private_key_file = "id\r" # HERE`},
			summary: "Invalid character in value", detail: "The private_key_file contains a carriage return"},
		"newline in known_hosts file": {lines: map[string]string{"connection": `known_hosts_file = "kh\n" # HERE`},
			summary: "Invalid character in value", detail: "The known_hosts_file contains a newline"},
		"semicolon in bastion host": {lines: map[string]string{"bastion": `host = "jump;id" # HERE`},
			summary: "Invalid host", detail: `The bastion host "jump;id" contains ';'`},
		"newline in bastion user": {lines: map[string]string{"bastion": "host = \"jump\"\nuser = \"a\\nb\" # HERE"},
			summary: "Invalid character in value", detail: "The user contains a newline"},
		"newline in TLS cert path": {lines: map[string]string{"member": `peer_url = "https://10.0.0.1:2380"`, "tls": `ca_file = "/etc/etcd/pki/ca.pem"
			key_file = "/etc/etcd/pki/k.pem"
			cert_file = "/etc/etcd/pki/${member.name}.pem\nx" # HERE`},
			summary: "Invalid character in value", detail: "The cert_file contains a newline"},
		"space in TLS key path": {lines: map[string]string{"member": `peer_url = "https://10.0.0.1:2380"`, "tls": `ca_file = "/etc/etcd/pki/ca.pem"
			cert_file = "/etc/etcd/pki/c.pem"
			key_file = "/etc/etcd/pki/my key.pem" # HERE`},
			summary: "Invalid path on host", detail: "contains ' '"},
		"newline in etcd version": {lines: map[string]string{"cluster": `etcd_version = "3.6.16\n" # HERE`},
			summary: "Invalid character in value", detail: "The etcd_version contains a newline"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"id", "kh"} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			src := hostileConfig(tc.lines)
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			var want hcl.Pos
			for i, l := range strings.Split(src, "\n") {
				if strings.HasSuffix(l, "# HERE") {
					want = hcl.Pos{Line: i + 1, Column: strings.Index(l, "= ") + 3}
				}
			}
			if want.Line == 0 {
				t.Fatal("no line marked # HERE")
			}
			_, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
			var errs hcl.Diagnostics
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, d)
				}
			}
			if len(errs) != 1 {
				t.Fatalf("want exactly one error, got %d:\n%s\n%s", len(errs), renderDiags(t, dir, errs), src)
			}
			d := errs[0]
			if d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("got %q: %s\nwant %q with %q", d.Summary, d.Detail, tc.summary, tc.detail)
			}
			if d.Subject == nil || filepath.Base(d.Subject.Filename) != "main.hcl" || d.Subject.Start.Line != want.Line || d.Subject.Start.Column != want.Column {
				t.Errorf("range %v, want main.hcl:%d,%d\n%s", d.Subject, want.Line, want.Column, src)
			}
		})
	}
}
