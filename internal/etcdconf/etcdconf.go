// Package etcdconf renders and parses etcd's own YAML configuration file (the
// keys of `etcd --config-file`). It is the single place that knows which etcd
// keys etcdform manages, so the planner, the applier and the lab agree on the
// exact bytes a member's config file should hold.
package etcdconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/etcdform/etcdform/internal/textcheck"
)

// File is the subset of etcd's config-file keys that etcdform manages. The
// JSON tags are etcd's YAML keys (etcd itself decodes the file with
// sigs.k8s.io/yaml, YAML to JSON, as this package does).
type File struct {
	Name                     string `json:"name"`
	DataDir                  string `json:"data-dir"`
	ListenPeerURLs           string `json:"listen-peer-urls"`
	ListenClientURLs         string `json:"listen-client-urls"`
	InitialAdvertisePeerURLs string `json:"initial-advertise-peer-urls"`
	AdvertiseClientURLs      string `json:"advertise-client-urls"`
	InitialCluster           string `json:"initial-cluster"`
	InitialClusterToken      string `json:"initial-cluster-token"`
	InitialClusterState      string `json:"initial-cluster-state"`
	QuotaBackendBytes        int64  `json:"quota-backend-bytes"`
	SnapshotCount            uint64 `json:"snapshot-count"`
	MaxRequestBytes          int64  `json:"max-request-bytes"`
	HeartbeatInterval        int64  `json:"heartbeat-interval"` // milliseconds
	ElectionTimeout          int64  `json:"election-timeout"`   // milliseconds
	AutoCompactionMode       string `json:"auto-compaction-mode"`
	AutoCompactionRetention  string `json:"auto-compaction-retention"`
	Logger                   string `json:"logger"`
	LogLevel                 string `json:"log-level"`
	// LogOutputs is where etcd logs ("stderr", "stdout", a file path);
	// absent: etcd's default.
	LogOutputs []string `json:"log-outputs,omitempty"`
	// ListenMetricsURLs are the extra listeners for /metrics and /health,
	// comma-separated as etcd reads them; Metrics is "basic" or
	// "extensive". Both absent: etcd's defaults (no extra listener,
	// basic).
	ListenMetricsURLs string `json:"listen-metrics-urls,omitempty"`
	Metrics           string `json:"metrics,omitempty"`

	// The corruption checks. Which of these keys carries a check depends
	// on the etcd version (keys.go, SetChecks); the others stay empty.
	// Durations are in nanoseconds: etcd decodes its time.Duration keys
	// from JSON numbers.
	FeatureGates                        string `json:"feature-gates,omitempty"`
	ExperimentalInitialCorruptCheck     bool   `json:"experimental-initial-corrupt-check,omitempty"`
	ExperimentalCompactHashCheckEnabled bool   `json:"experimental-compact-hash-check-enabled,omitempty"`
	ExperimentalCompactHashCheckTime    int64  `json:"experimental-compact-hash-check-time,omitempty"`
	CompactHashCheckTime                int64  `json:"compact-hash-check-time,omitempty"`

	ClientTransportSecurity *Security `json:"client-transport-security,omitempty"`
	PeerTransportSecurity   *Security `json:"peer-transport-security,omitempty"`
}

// Security is etcd's client-/peer-transport-security block.
type Security struct {
	CertFile       string `json:"cert-file,omitempty"`
	KeyFile        string `json:"key-file,omitempty"`
	TrustedCAFile  string `json:"trusted-ca-file,omitempty"`
	ClientCertAuth bool   `json:"client-cert-auth,omitempty"`
}

// Bootstrap holds the keys that only matter the first time a member starts
// (etcd ignores them once the data dir holds a member).
type Bootstrap struct {
	InitialCluster string // "name=peerURL,..."
	Token          string
	State          string // "new" | "existing"
}

// InitialCluster formats name=peerURL pairs in etcd's initial-cluster syntax,
// sorted by name so the result is stable.
func InitialCluster(peers map[string]string) string {
	names := make([]string, 0, len(peers))
	for n := range peers {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + peers[n]
	}
	return strings.Join(parts, ",")
}

// Marshal renders f as YAML with a header comment. It refuses a file
// with a value etcd would not read back as meant (see Check).
func Marshal(f *File) ([]byte, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	js, err := json.Marshal(f)
	if err != nil {
		panic(err) // File holds only plain types
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		panic(err)
	}
	var b bytes.Buffer
	b.WriteString("# Managed by etcdform. Changes made by hand show up as drift in `etcdform plan`.\n")
	b.Write(y)
	return b.Bytes(), nil
}

// Check reports a value of f that the config file must not carry: a
// control character or line break anywhere (see textcheck.ControlRune), a
// name with the ',' or '=' of initial-cluster's syntax, or a URL with the
// ',' that separates etcd's URL lists. The schema refuses such
// configurations; this check keeps a value it missed, or one read from a
// host, out of the file.
func (f *File) Check() error {
	strs := []struct{ key, v string }{
		{"name", f.Name}, {"data-dir", f.DataDir}, {"listen-peer-urls", f.ListenPeerURLs},
		{"listen-client-urls", f.ListenClientURLs}, {"initial-advertise-peer-urls", f.InitialAdvertisePeerURLs},
		{"advertise-client-urls", f.AdvertiseClientURLs}, {"initial-cluster", f.InitialCluster},
		{"initial-cluster-token", f.InitialClusterToken}, {"initial-cluster-state", f.InitialClusterState},
		{"auto-compaction-mode", f.AutoCompactionMode}, {"auto-compaction-retention", f.AutoCompactionRetention},
		{"logger", f.Logger}, {"log-level", f.LogLevel},
		{"listen-metrics-urls", f.ListenMetricsURLs}, {"metrics", f.Metrics}, {"feature-gates", f.FeatureGates},
	}
	for _, o := range f.LogOutputs {
		strs = append(strs, struct{ key, v string }{"log-outputs", o})
	}
	for _, side := range []struct {
		key string
		s   *Security
	}{{"client-transport-security", f.ClientTransportSecurity}, {"peer-transport-security", f.PeerTransportSecurity}} {
		if side.s != nil {
			strs = append(strs, struct{ key, v string }{side.key + ".cert-file", side.s.CertFile},
				struct{ key, v string }{side.key + ".key-file", side.s.KeyFile},
				struct{ key, v string }{side.key + ".trusted-ca-file", side.s.TrustedCAFile})
		}
	}
	for _, x := range strs {
		if r, _, bad := textcheck.ControlRune(x.v); bad {
			return fmt.Errorf("etcdconf: the %s %q contains %s, which the config file cannot carry", x.key, x.v, textcheck.RuneName(r))
		}
	}
	if strings.ContainsAny(f.Name, ",=") {
		return fmt.Errorf("etcdconf: the name %q contains ',' or '=', which initial-cluster cannot carry", f.Name)
	}
	for _, x := range strs[2:6] {
		if strings.Contains(x.v, ",") {
			return fmt.Errorf("etcdconf: the %s %q contains ',', which etcd reads as a second URL", x.key, x.v)
		}
	}
	return nil
}

// Parsed is a config file read from a host.
type Parsed struct {
	File File
	// Unknown lists the top-level keys etcdform does not manage, sorted.
	Unknown []string
}

// Parse decodes an etcd YAML config file. Keys that etcdform does not manage
// are listed in Unknown rather than dropped silently.
func Parse(data []byte) (*Parsed, error) {
	var raw map[string]json.RawMessage
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("etcdconf: not valid YAML: %w", err)
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("etcdconf: not a YAML mapping: %w", err)
	}
	known := knownKeys()
	p := &Parsed{}
	for k := range raw {
		if !known[k] {
			p.Unknown = append(p.Unknown, k)
		}
	}
	sort.Strings(p.Unknown)
	if err := json.Unmarshal(js, &p.File); err != nil {
		return nil, fmt.Errorf("etcdconf: %w", err)
	}
	return p, nil
}

// knownKeys are File's top-level keys, from its JSON tags (a marshalled
// File would leave out the keys tagged omitempty).
func knownKeys() map[string]bool {
	t := reflect.TypeOf(File{})
	out := make(map[string]bool, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}
