package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// bootstrapOnly are the keys etcd reads only on a member's first start; a
// difference in them is not drift.
var bootstrapOnly = cmpopts.IgnoreFields(etcdconf.File{}, "InitialCluster", "InitialClusterToken", "InitialClusterState")

// runsVersion is the etcd version member m runs once the plan is applied,
// the version its config file is rendered for (render.MemberFor): the
// cluster's etcd_version when the plan moves m there (an install block, m
// up on a reachable host that reports another version: upgradeWork
// restarts it on etcd_version right after writing the file); otherwise
// the version its host reports, or etcd_version ("": the newest etcd) when
// the host reports none.
func (cp *clusterPlanner) runsVersion(m *member) string {
	c := cp.c
	hv := ""
	if m.host != nil {
		hv = m.host.BinaryVersion
	}
	if hv == "" || c.EtcdVersion != "" && c.Install != nil && !m.down && !m.hostDown {
		return c.EtcdVersion
	}
	return hv
}

// configDiff compares the config file wanted for member d, rendered for
// etcd version (runsVersion), with the one observed on host h. It returns the file to write, the per-key changes
// (nil when the managed keys agree), and the unmanaged keys a write drops.
// Unmanaged keys alone never cause a write. The bootstrap-only keys of the
// observed file are kept as they are. err says why the wanted file cannot
// be rendered (etcdconf.Marshal refuses it).
func configDiff(c *schema.Cluster, d *schema.Member, h *state.Host, version string) (file []byte, changes []Change, dropped []string, err error) {
	if h == nil || !h.Reachable {
		return nil, nil, nil, nil
	}
	fresh := func(before string) ([]byte, []Change, []string, error) {
		f, err := render.MemberFor(c, d, etcdconf.Bootstrap{InitialCluster: d.Name + "=" + d.PeerURL, State: "existing"}, version)
		if err != nil {
			return nil, nil, nil, err
		}
		b, err := etcdconf.Marshal(f)
		return b, []Change{{Attr: "config-file", Before: before, After: c.Service.ConfigFile}}, nil, err
	}
	switch {
	case !h.ConfigExists:
		return fresh("(absent)")
	case h.ConfigError != "" || h.Config == nil:
		return fresh(fmt.Sprintf("(unparsable: %s)", orNone(h.ConfigError)))
	}
	got := normalize(h.Config)
	rendered, err := render.MemberFor(c, d, etcdconf.Bootstrap{
		InitialCluster: got.InitialCluster, Token: got.InitialClusterToken, State: got.InitialClusterState,
	}, version)
	if err != nil {
		return nil, nil, nil, err
	}
	want := normalize(rendered)
	if c.CorruptionCheck == nil {
		// No corruption_check block: the checks stay as the host's file
		// has them, moved to the keys of the version the member restarts
		// on when that is another one (3.7 would ignore a 3.6 file's
		// experimental keys, 3.5 its gates).
		if version == "" || version == h.BinaryVersion {
			want.CopyChecks(got)
		} else if err := want.SetChecks(got.Checks(), version); err != nil {
			return nil, nil, nil, err
		}
	}
	// Gates set by hand that carry no setting of etcdform's stay.
	want.KeepOtherGates(got.FeatureGates)
	// Without a metrics block, or logging outputs, those keys stay as the
	// host's file has them.
	if c.Metrics == nil {
		want.Metrics, want.ListenMetricsURLs = got.Metrics, got.ListenMetricsURLs
	}
	if c.Logging.Outputs == nil {
		want.LogOutputs = got.LogOutputs
	}
	if cmp.Equal(want, got, bootstrapOnly) {
		return nil, nil, nil, nil
	}
	before, after := flatten(got), flatten(want)
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range keys {
		switch k {
		case "initial-cluster", "initial-cluster-token", "initial-cluster-state":
			continue
		}
		if before[k] != after[k] {
			changes = append(changes, Change{Attr: k, Before: before[k], After: after[k]})
		}
	}
	for _, k := range h.ConfigUnknown {
		changes = append(changes, Change{Attr: k, Before: "(unmanaged)", After: ""})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Attr < changes[j].Attr })
	dropped = append([]string(nil), h.ConfigUnknown...)
	sort.Strings(dropped)
	file, err = etcdconf.Marshal(want)
	return file, changes, dropped, err
}

// refuseRender refuses a plan that would write a file the renderer cannot
// encode for member m.
func (cp *clusterPlanner) refuseRender(m string, err error) {
	cp.refuse(m, 0, "File cannot be written", "The file etcdform would write for member %s cannot be rendered: %s. Fix the configuration value and plan again.", m, err)
}

// normalize returns a copy of f where an empty security block is absent.
func normalize(f *etcdconf.File) *etcdconf.File {
	n := *f
	if n.ClientTransportSecurity != nil && *n.ClientTransportSecurity == (etcdconf.Security{}) {
		n.ClientTransportSecurity = nil
	}
	if n.PeerTransportSecurity != nil && *n.PeerTransportSecurity == (etcdconf.Security{}) {
		n.PeerTransportSecurity = nil
	}
	return &n
}

// flatten maps each etcd key of f (nested keys joined with ".") to its
// value as text.
func flatten(f *etcdconf.File) map[string]string {
	js, err := json.Marshal(f)
	if err != nil {
		panic(err) // File holds only plain types
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v map[string]any)
	walk = func(prefix string, v map[string]any) {
		for k, x := range v {
			if sub, ok := x.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = fmt.Sprint(x)
		}
	}
	walk("", m)
	return out
}
