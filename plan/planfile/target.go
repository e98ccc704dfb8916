package planfile

import (
	"fmt"
	"time"

	"github.com/etcdform/etcdform/plan"
)

// The serialized targets (format version 4): where a step acts and how
// apply reaches a cluster. Paths, never key bytes.

type fileTarget struct {
	Host       fileHost    `json:"host"`
	Service    fileService `json:"service"`
	ConfigFile string      `json:"config_file"`
	DataDir    string      `json:"data_dir"`
	Binary     string      `json:"binary"`
	Version    string      `json:"version,omitempty"`
}

// fileHost is how to reach a host: paths, never key bytes.
type fileHost struct {
	Host           string       `json:"host"`
	Port           int          `json:"port,omitempty"`
	User           string       `json:"user,omitempty"`
	PrivateKeyFile string       `json:"private_key_file,omitempty"`
	Agent          bool         `json:"agent,omitempty"`
	KnownHostsFile string       `json:"known_hosts_file,omitempty"`
	Sudo           bool         `json:"sudo,omitempty"`
	Timeout        string       `json:"timeout,omitempty"`
	Bastion        *fileBastion `json:"bastion,omitempty"`
}

type fileBastion struct {
	Host           string `json:"host"`
	Port           int    `json:"port,omitempty"`
	User           string `json:"user,omitempty"`
	PrivateKeyFile string `json:"private_key_file,omitempty"`
}

type fileService struct {
	Manager        string `json:"manager"`
	Name           string `json:"name,omitempty"`
	StartCommand   string `json:"start_command,omitempty"`
	StopCommand    string `json:"stop_command,omitempty"`
	StatusCommand  string `json:"status_command,omitempty"`
	RestartCommand string `json:"restart_command,omitempty"`
	StopTimeout    string `json:"stop_timeout,omitempty"`
	// User is the user an installed service runs etcd as (format 9).
	User string `json:"user,omitempty"`
}

type fileClusterTarget struct {
	Name      string   `json:"name"`
	Endpoints []string `json:"endpoints"`
	CAFile    string   `json:"ca_file,omitempty"`
	CertFile  string   `json:"cert_file,omitempty"`
	KeyFile   string   `json:"key_file,omitempty"`
	Backup    bool     `json:"backup,omitempty"`
}

func toTarget(t *plan.Target) *fileTarget {
	if t == nil {
		return nil
	}
	h, svc := t.Host, t.Service
	ft := &fileTarget{
		Host: fileHost{Host: h.Host, Port: h.Port, User: h.User, PrivateKeyFile: h.PrivateKeyFile, Agent: h.Agent,
			KnownHostsFile: h.KnownHostsFile, Sudo: h.Sudo, Timeout: encodeDuration(h.Timeout)},
		Service: fileService{Manager: svc.Manager, Name: svc.Name, StartCommand: svc.StartCommand, StopCommand: svc.StopCommand,
			StatusCommand: svc.StatusCommand, RestartCommand: svc.RestartCommand, StopTimeout: encodeDuration(svc.StopTimeout), User: svc.User},
		ConfigFile: t.ConfigFile, DataDir: t.DataDir, Binary: t.Binary, Version: t.Version,
	}
	if b := h.Bastion; b != nil {
		ft.Host.Bastion = &fileBastion{Host: b.Host, Port: b.Port, User: b.User, PrivateKeyFile: b.PrivateKeyFile}
	}
	return ft
}

func fromTarget(ft *fileTarget) (*plan.Target, error) {
	if ft == nil {
		return nil, nil
	}
	timeout, err := decodeDuration(ft.Host.Timeout)
	if err != nil {
		return nil, fmt.Errorf("target: host timeout: %w", err)
	}
	stop, err := decodeDuration(ft.Service.StopTimeout)
	if err != nil {
		return nil, fmt.Errorf("target: stop timeout: %w", err)
	}
	h, svc := ft.Host, ft.Service
	t := &plan.Target{
		Host: plan.HostAddr{Host: h.Host, Port: h.Port, User: h.User, PrivateKeyFile: h.PrivateKeyFile, Agent: h.Agent,
			KnownHostsFile: h.KnownHostsFile, Sudo: h.Sudo, Timeout: timeout},
		Service: plan.Service{Manager: svc.Manager, Name: svc.Name, StartCommand: svc.StartCommand, StopCommand: svc.StopCommand,
			StatusCommand: svc.StatusCommand, RestartCommand: svc.RestartCommand, StopTimeout: stop, User: svc.User},
		ConfigFile: ft.ConfigFile, DataDir: ft.DataDir, Binary: ft.Binary, Version: ft.Version,
	}
	if b := h.Bastion; b != nil {
		t.Host.Bastion = &plan.Bastion{Host: b.Host, Port: b.Port, User: b.User, PrivateKeyFile: b.PrivateKeyFile}
	}
	return t, nil
}

func encodeDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func decodeDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}
