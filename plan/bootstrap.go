package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	"github.com/etcdform/etcdform/internal/servicedef"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// A cluster no endpoint answers is either one to create (every member's
// host is reachable and bare: no data dir in use, nothing on the peer
// port, no etcd service running) or one that exists and does not answer,
// which is refused. A bootstrap must never fork an existing cluster: one
// trace of a cluster on any member's host refuses it.
//
// The bootstrap of a new cluster is, per member in configuration order:
// install-binary (when the host lacks etcd_version: the checked release
// artifact, see internal/release), install-service (the user, the data dir
// 0700, the systemd unit or runit run script, stopped; when they differ),
// write-config (initial-cluster-state "new", every member in
// initial-cluster, and the plan's initial-cluster-token); then a
// bootstrap-start of every member, gated once after the last.

// unreachable plans a cluster no endpoint answered: its bootstrap when
// every member's host is bare, a refusal that says why otherwise.
func (cp *clusterPlanner) unreachable() {
	c, oc := cp.c, cp.oc
	var unknown, traces []string
	bare := 0
	for _, m := range c.Members {
		h := oc.Hosts[m.Name]
		if h == nil || !h.Reachable {
			unknown = append(unknown, fmt.Sprintf("the host of %s (%s) cannot be reached over SSH (%s)", m.Name, m.Host, hostError(h)))
			continue
		}
		t := clusterTraces(c, m, h)
		if len(t) == 0 {
			bare++
		}
		traces = append(traces, t...)
	}
	if len(unknown) == 0 && len(traces) == 0 {
		if ob := oc.Backups; ob != nil && len(ob.Snapshots) > 0 {
			newest := ob.Snapshots[len(ob.Snapshots)-1]
			cp.refuse("", 0, "Backups of this cluster exist",
				"No endpoint of cluster %s answered, and none of its hosts holds a data dir in use, listens on its peer port or runs etcd, so a plan would create it as a new, EMPTY cluster. But its backup destination %s holds %d snapshots of cluster %s, the newest %s (revision %d, %d keys, taken at %s): the cluster existed and lost its data. Run `etcdform plan --restore-from latest` to restore it from the newest (or name a snapshot ID). To create an empty cluster under this name anyway, point backup.destination elsewhere or move the old snapshots away first.",
				c.Name, ob.Destination, len(ob.Snapshots), c.Name, newest.ID, newest.Revision, newest.KeyCount, newest.Time.UTC().Format(time.RFC3339))
			return
		}
		if left := leftConfigs(c, oc); len(left) > 0 {
			cp.refuse("", 0, "Cluster data gone",
				"No endpoint of cluster %s answered, and none of its hosts holds a data dir in use, listens on its peer port or runs etcd, so a plan would create it as a new, EMPTY cluster. But %s: etcd was set up there before, so the cluster most likely existed and lost its data. An empty cluster at the old client URLs looks to its clients, a Kubernetes API server among them, like a cluster whose every key was deleted. To bring the data back, restore a snapshot: `etcdform plan --restore-from latest` with a backup block whose destination holds this cluster's snapshots, or by hand (docs/recovery.md). To create an empty cluster anyway (or when these configs are from a bootstrap whose apply stopped before any member started), move each of those config files aside on its host (`mv %s %s.old`) and plan again.",
				c.Name, strings.Join(left, "; "), c.Service.ConfigFile, c.Service.ConfigFile)
			return
		}
		cp.bootstrap()
		return
	}
	summary := "Cluster not reachable"
	if bare > 0 && len(traces) > 0 {
		summary = "Bootstrap refused"
	}
	cp.refuse("", 0, summary,
		"No endpoint of cluster %s answered the etcd client (%s). Nor is it created as a new cluster, because %s. A bootstrap must never fork an existing cluster, so nothing is planned. If the cluster exists, check the client URLs, TLS settings and network, and plan again; if what is on the hosts is left over from an earlier cluster, move it aside on each host (stop etcd, move the data dir) and plan again.",
		c.Name, orNone(oc.Error), strings.Join(append(unknown, traces...), "; "))
}

// leftConfigs lists the members' hosts that hold an etcd config file at
// service.config_file: on hosts with no data, no listener and no etcd
// running, what is left of a cluster whose data is gone (a bare host, as a
// bootstrap finds it, has none).
func leftConfigs(c *schema.Cluster, oc *state.Cluster) []string {
	var out []string
	for _, m := range c.Members {
		h := oc.Hosts[m.Name]
		if h == nil || !h.ConfigExists {
			continue
		}
		what := "an etcd config"
		if f := h.Config; f != nil && f.InitialClusterToken != "" {
			what = fmt.Sprintf("the etcd config of a cluster (initial-cluster-token %s)", f.InitialClusterToken)
		}
		out = append(out, fmt.Sprintf("%s on the host of %s (%s) holds %s", c.Service.ConfigFile, m.Name, m.Host, what))
	}
	return out
}

// clusterTraces lists what on member m's host h shows a cluster: a data
// dir in use, a listener on the peer port, a running etcd service.
func clusterTraces(c *schema.Cluster, m *schema.Member, h *state.Host) []string {
	var out []string
	if !h.DataDirEmpty {
		out = append(out, fmt.Sprintf("the data dir %s of %s on %s holds data (%d bytes)", c.Service.DataDir, m.Name, m.Host, h.DataDirBytes))
	}
	if h.PeerPortInUse {
		out = append(out, fmt.Sprintf("something answers on the peer port of %s (%s)", m.Name, m.PeerURL))
	} else if h.PeerPortError != "" {
		out = append(out, fmt.Sprintf("the peer port of %s could not be checked (%s)", m.Name, h.PeerPortError))
	}
	if h.ServiceState == "running" {
		out = append(out, fmt.Sprintf("the etcd service of %s runs on %s", m.Name, m.Host))
	}
	return out
}

// BootstrapToken is the initial-cluster-token of a new cluster planned at
// meta: the cluster's name and 16 hex digits derived from the plan's time
// and configuration hash, so that each plan generates its own. The plan
// records it in every member's config; apply's re-check pins it from the
// saved plan (Options.Tokens, PinTokens).
func BootstrapToken(cluster string, meta Meta) string {
	sum := sha256.Sum256([]byte(cluster + "\x00" + meta.Time.UTC().Format("2006-01-02T15:04:05.999999999Z") + "\x00" + meta.ConfigHash))
	return cluster + "-" + hex.EncodeToString(sum[:8])
}

// PinTokens returns the initial-cluster-token of each cluster the saved
// steps bootstrap (their write-config steps with initial-cluster-state
// "new"), for Options.Tokens when the plan is made again to be compared.
func PinTokens(saved []Step) map[string]string {
	out := map[string]string{}
	for _, s := range saved {
		if s.Action != WriteConfig && s.Action != RestoreMember {
			continue
		}
		if f, err := etcdconf.Parse(s.Config); err == nil && f.File.InitialClusterState == "new" && f.File.InitialClusterToken != "" {
			out[s.Cluster] = f.File.InitialClusterToken
		}
	}
	return out
}

// bootstrap plans the creation of cp's cluster on bare hosts.
func (cp *clusterPlanner) bootstrap() {
	c, oc := cp.c, cp.oc
	if !servicedef.Supported(c.Service.Manager) {
		cp.refuse("", 0, "Bootstrap needs systemd or runit",
			"Cluster %s does not run yet, and etcdform installs etcd's service only for service.manager \"systemd\" or \"runit\", not %q. Install the service by hand, or choose one of those managers.", c.Name, c.Service.Manager)
		return
	}
	rel, ok := cp.bootstrapRelease()
	if !ok {
		return
	}
	token := cp.opts.Tokens[c.Name]
	if token == "" {
		token = BootstrapToken(c.Name, cp.opts.Meta)
	}
	peers := map[string]string{}
	for _, m := range c.Members {
		peers[m.Name] = m.PeerURL
	}
	initial := etcdconf.InitialCluster(peers)
	cp.warn("", "New cluster", "Cluster %s does not run, and none of its %d hosts holds a data dir in use, listens on its peer port or runs etcd: the plan creates it (initial-cluster-state new, initial-cluster-token %s).", c.Name, len(c.Members), token)
	def, err := servicedef.Render(servicedef.Spec{Manager: c.Service.Manager, Name: c.Service.Name, Binary: c.Service.Binary,
		ConfigFile: c.Service.ConfigFile, User: c.Service.User, StopTimeout: c.Service.StopTimeout})
	if err != nil {
		cp.refuseRender("", err)
		return
	}
	for _, m := range c.Members {
		h := oc.Hosts[m.Name]
		if rel != nil && h.BinaryVersion != c.EtcdVersion {
			cp.emit(installBinaryStep(c, m, h, rel), false)
		}
		if !bytes.Equal(h.ServiceDef, def) || !h.DataDirExists || h.DataDirMode != 0o700 {
			cp.emit(installServiceStep(c, m, h, def), false)
		}
		f, err := etcdconf.Marshal(render.Member(c, m, etcdconf.Bootstrap{InitialCluster: initial, Token: token, State: "new"}))
		if err != nil {
			cp.refuseRender(m.Name, err)
			return
		}
		for _, u := range cp.startUploads(m, h) {
			cp.emit(u, false)
		}
		if !h.ConfigExists || !bytes.Equal(h.ConfigContent, f) {
			cp.emit(Step{Action: WriteConfig, Cluster: c.Name, Member: m.Name,
				Reason: "New cluster: write the member's config (initial-cluster-state new, every member in initial-cluster, the plan's token)",
				Changes: []Change{{Attr: "config-file", Before: presence(h.ConfigExists), After: c.Service.ConfigFile},
					{Attr: "initial-cluster-state", After: "new"}, {Attr: "initial-cluster-token", After: token}},
				Config: f, ConfigObserved: observedConfig(h)}, false)
		}
	}
	for _, m := range c.Members {
		st := oc.Hosts[m.Name].ServiceState
		if st == "" {
			st = "unknown"
		}
		cp.emit(Step{Action: BootstrapStart, Cluster: c.Name, Member: m.Name,
			Reason:  "New cluster: enable and start the member without waiting for it; the health gate follows the last start",
			Changes: []Change{{Attr: "service", Before: st, After: "running"}}}, false)
	}
	cp.steps = append(cp.steps, cp.body...)
}

// bootstrapRelease returns the checked release to install on the hosts
// that lack etcd_version (nil when none does), or refuses the bootstrap.
func (cp *clusterPlanner) bootstrapRelease() (*state.Release, bool) {
	c, oc := cp.c, cp.oc
	var missing []string
	for _, m := range c.Members {
		if v := oc.Hosts[m.Name].BinaryVersion; v == "" || c.EtcdVersion != "" && v != c.EtcdVersion {
			missing = append(missing, fmt.Sprintf("%s (%s)", m.Name, orAbsent(v)))
		}
	}
	switch {
	case len(missing) == 0:
		return nil, true
	case c.EtcdVersion == "" || c.Install == nil:
		cp.refuse("", 0, "No etcd binary to install",
			"Cluster %s does not run yet, and the hosts of %s have no etcd binary at %s of the wanted version. Set etcd_version and an install block (see docs/language.md) so that etcdform installs it, or install it by hand.", c.Name, strings.Join(missing, ", "), c.Service.Binary)
		return nil, false
	case oc.Release == nil || oc.Release.Error != "":
		why := "it was not fetched"
		if oc.Release != nil {
			why = oc.Release.Error
		}
		cp.refuse("", 0, "Install artifact refused",
			"The hosts of %s need etcd %s, and the install source %s cannot be installed: %s. Nothing is installed on any host.", strings.Join(missing, ", "), c.EtcdVersion, c.Install.Expand(c.EtcdVersion), why)
		return nil, false
	}
	return oc.Release, true
}

func installBinaryStep(c *schema.Cluster, m *schema.Member, h *state.Host, rel *state.Release) Step {
	utl := path.Join(path.Dir(c.Service.Binary), "etcdutl")
	before := "(absent)"
	if h.BinaryVersion != "" {
		before = "etcd " + h.BinaryVersion
	}
	return Step{Action: InstallBinary, Cluster: c.Name, Member: m.Name,
		Reason: fmt.Sprintf("Install etcd %s from %s (sha256 %s, as %s says): uploaded, staged next to each binary, checked and swapped in; the previous binaries are kept as .bak", rel.Version, rel.Source, rel.SHA256, rel.SumFrom),
		Changes: []Change{{Attr: c.Service.Binary, Before: before, After: "etcd " + rel.Version + " sha256:" + rel.Etcd.SHA256},
			{Attr: utl, Before: presence(h.BinaryVersion != ""), After: "etcdutl " + rel.Version + " sha256:" + rel.Etcdutl.SHA256}},
		Uploads: []Upload{
			{Role: "etcd-binary", Path: c.Service.Binary, Source: rel.Etcd.Path, SHA256: rel.Etcd.SHA256, Mode: 0o755},
			{Role: "etcdutl-binary", Path: utl, Source: rel.Etcdutl.Path, SHA256: rel.Etcdutl.SHA256, Mode: 0o755},
		}}
}

func installServiceStep(c *schema.Cluster, m *schema.Member, h *state.Host, def []byte) Step {
	svc := c.Service
	mode := "(absent)"
	if h.DataDirExists {
		mode = "mode 0" + strconv.FormatUint(uint64(h.DataDirMode), 8)
	}
	user := svc.User
	if user != "root" {
		user += " (a system user, created when missing)"
	}
	return Step{Action: InstallService, Cluster: c.Name, Member: m.Name,
		Reason: fmt.Sprintf("New cluster: install etcd's %s service %s, left stopped, running etcd as %s, with its data dir", svc.Manager, svc.Name, svc.User),
		Changes: []Change{{Attr: servicedef.Path(svc.Manager, svc.Name), Before: presence(h.ServiceDef != nil), After: "etcd as " + user},
			{Attr: "data-dir " + svc.DataDir, Before: mode, After: "mode 0700, owner " + svc.User}},
		Config: def, ConfigObserved: h.ServiceDef}
}

func presence(exists bool) string {
	if exists {
		return "(present)"
	}
	return "(absent)"
}
