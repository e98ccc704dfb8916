package lab

// The files lab up writes before any host starts: keys, sshd configs,
// runit services, etcd configs, known_hosts and lab.hcl.

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	"github.com/etcdform/etcdform/schema"
)

// writeKeysAndFiles writes the SSH client key, per-host sshd config and host
// keys, known_hosts and lab.hcl; then, from lab.hcl as the schema decodes
// it, the runit service dirs or systemd units and the etcd configs.
func (s *State) writeKeysAndFiles(bins *etcdbin.Binaries) error {
	_, clientKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := writePrivateKey(s.KeyFile(), clientKey); err != nil {
		return err
	}
	clientPub, err := ssh.NewPublicKey(clientKey.Public())
	if err != nil {
		return err
	}
	authorized := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(s.KeyFile()+".pub", ssh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		return err
	}
	if s.TLS {
		if err := s.writePKI(); err != nil {
			return fmt.Errorf("lab: making certificates: %w", err)
		}
	}
	var known strings.Builder
	for _, h := range s.Hosts {
		line, err := writeHostFiles(h, bins, authorized, s.Bare())
		if err != nil {
			return err
		}
		known.WriteString(line)
	}
	if err := os.WriteFile(s.KnownHostsFile(), []byte(known.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(s.HCLFile(), []byte(s.hcl()), 0o644); err != nil {
		return err
	}
	cluster, err := s.model()
	if err != nil {
		return err
	}
	peers := map[string]string{}
	for _, h := range s.Members() {
		peers[h.Name] = h.PeerURL()
	}
	for _, h := range s.Hosts {
		if err := s.writeHostServices(h, cluster, peers); err != nil {
			return err
		}
	}
	return nil
}

// writeHostFiles makes host h's directories and writes its SSH host key,
// sshd config and etcd binaries (none on a bare host). It returns h's
// known_hosts line.
func writeHostFiles(h Host, bins *etcdbin.Binaries, authorized string, bare bool) (string, error) {
	for _, b := range hostBinds {
		if err := os.MkdirAll(filepath.Join(h.Root, b[0]), 0o755); err != nil {
			return "", err
		}
	}
	for _, d := range []string{"ssh", "var-log/etcd"} {
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(filepath.Join(h.Root, "var-lib-etcd"), 0o700); err != nil {
		return "", err
	}
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	hostKeyFile := filepath.Join(h.Root, "ssh", "ssh_host_ed25519_key")
	if err := writePrivateKey(hostKeyFile, hostKey); err != nil {
		return "", err
	}
	hostPub, err := ssh.NewPublicKey(hostKey.Public())
	if err != nil {
		return "", err
	}
	sshdConfig := fmt.Sprintf(`# sshd for lab host %s
ListenAddress %s:%d
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
`, h.Name, h.Addr, SSHPort, hostKeyFile, filepath.Join(h.Root, "ssh", "sshd.pid"), authorized)
	if err := os.WriteFile(filepath.Join(h.Root, "ssh", "sshd_config"), []byte(sshdConfig), 0o644); err != nil {
		return "", err
	}
	for src, dst := range map[string]string{bins.Etcd: "etcd", bins.Etcdutl: "etcdutl"} {
		if bare {
			break
		}
		if err := linkOrCopy(src, filepath.Join(h.Root, "bin", dst)); err != nil {
			return "", err
		}
	}
	return knownhosts.Line([]string{h.Addr}, hostPub) + "\n", nil
}

// writeHostServices writes host h's runit service dirs or systemd units
// and, on a member, its etcd config rendered from cluster with the renderer
// apply uses, so a plan right after `lab up` is empty.
func (s *State) writeHostServices(h Host, cluster *schema.Cluster, peers map[string]string) error {
	var err error
	if s.systemd() {
		err = s.writeUnits(h, cluster)
	} else {
		err = runitServices(h, s.Bare())
	}
	if err != nil || !h.Member {
		return err
	}
	m := cluster.Member(h.Name)
	f := render.Member(cluster, m, etcdconf.Bootstrap{InitialCluster: etcdconf.InitialCluster(peers), Token: ClusterName, State: "new"})
	b, err := etcdconf.Marshal(f)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.Root, "etc-etcd", "etcd.conf.yml"), b, 0o644)
}

// runitServices writes the host's runit service dirs: sshd, etcd (down on
// a spare host, until a member is added to it; none on a bare host, where
// etcdform installs it) and cron when installed.
func runitServices(h Host, bare bool) error {
	for _, d := range []string{"service/etcd", "service/sshd"} {
		if bare && d == "service/etcd" {
			continue
		}
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(h.Root, "service", "sshd", "run"), []byte(fmt.Sprintf(
		"#!/bin/sh\nexec /usr/sbin/sshd -D -e -f %s 2>>%s\n", filepath.Join(h.Root, "ssh", "sshd_config"), filepath.Join(h.Root, "ssh", "sshd.log"))), 0o755); err != nil {
		return err
	}
	if bare {
		return cronService(h)
	}
	// etcd runs under runit the way a production host would run it.
	if err := os.WriteFile(filepath.Join(h.Root, "service", "etcd", "run"), []byte(fmt.Sprintf(
		"#!/bin/sh\n# etcd under runit; config in etcd's own YAML format.\nexec %s --config-file %s >>/var/log/etcd/etcd.log 2>&1\n", EtcdBinary, EtcdConfigFile)), 0o755); err != nil {
		return err
	}
	if !h.Member {
		// A spare host runs sshd only until a member is added to it.
		if err := os.WriteFile(filepath.Join(h.Root, "service", "etcd", "down"), nil, 0o644); err != nil {
			return err
		}
	}
	return cronService(h)
}

func writePrivateKey(path string, key ed25519.PrivateKey) error {
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
}

func linkOrCopy(src, dst string) error {
	_ = os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// CronBinary is Debian's cron daemon. When it is installed every host runs
// it under runit, reading the host's own /etc/cron.d (where apply installs
// backup jobs).
const CronBinary = "/usr/sbin/cron"

func cronService(h Host) error {
	if _, err := os.Stat(CronBinary); err != nil {
		return nil
	}
	for _, d := range []string{"service/cron", "run", "cron-spool"} {
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(h.Root, "crontab"), []byte("# lab host: jobs live in /etc/cron.d\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.Root, "service", "cron", "run"), []byte(fmt.Sprintf(
		"#!/bin/sh\nexec %s -f >>%s 2>&1\n", CronBinary, filepath.Join(h.Root, "cron.log"))), 0o755)
}
