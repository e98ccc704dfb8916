package plantest

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Cluster returns a desired cluster "lab" with the schema's defaults and
// members named etcd-N.
func Cluster(n ...int) *schema.Cluster {
	c := schema.NewCluster("lab")
	c.EtcdVersion = "3.6.16"
	for _, i := range n {
		c.Members = append(c.Members, Member(i))
	}
	return c
}

// Member returns member etcd-i at 10.0.0.i.
func Member(i int) *schema.Member {
	return &schema.Member{
		Name:      fmt.Sprintf("etcd-%d", i),
		Host:      fmt.Sprintf("10.0.0.%d", i),
		PeerURL:   fmt.Sprintf("http://10.0.0.%d:2380", i),
		ClientURL: fmt.Sprintf("http://10.0.0.%d:2379", i),
	}
}

// Observe returns the observed state of a converged cluster c, where
// member etcd-<leader> leads. Member IDs are 0x100+N.
func Observe(c *schema.Cluster, leader int) *state.Cluster {
	oc := &state.Cluster{Name: c.Name, Reachable: true, ClusterID: 0xc1, ClusterVersion: "3.6.0", Hosts: map[string]*state.Host{}}
	peers := map[string]string{}
	for _, m := range c.Members {
		peers[m.Name] = m.PeerURL
	}
	for _, m := range c.Members {
		var n int
		fmt.Sscanf(m.Name, "etcd-%d", &n)
		id := uint64(0x100 + n)
		if n == leader {
			oc.LeaderID = id
		}
		oc.Members = append(oc.Members, state.Member{
			ID: id, Name: m.Name, PeerURLs: []string{m.PeerURL}, ClientURLs: []string{m.ClientURL},
			Status: &state.EndpointStatus{Version: "3.6.16", DBSize: 1 << 20, DBSizeInUse: 1 << 20, RaftTerm: 2, RaftIndex: 100},
		})
		f := render.Member(c, m, etcdconf.Bootstrap{InitialCluster: etcdconf.InitialCluster(peers), Token: "lab", State: "new"})
		oc.Hosts[m.Name] = &state.Host{
			Member: m.Name, Address: m.Host, Reachable: true, ConfigExists: true,
			ConfigHash: fmt.Sprintf("%064x", n), ConfigContent: mustMarshal(f), Config: f, ServiceState: "running", BinaryVersion: "3.6.16",
			Data: &state.DataDir{HasWAL: true, MemberID: id, ClusterID: oc.ClusterID},
		}
	}
	for i := range oc.Members {
		oc.Members[i].Status.Leader = oc.LeaderID
	}
	return oc
}

// mustMarshal renders a config file the test fixtures know to be valid.
func mustMarshal(f *etcdconf.File) []byte {
	b, err := etcdconf.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}

// Config wraps c in a configuration.
func Config(c *schema.Cluster) *schema.Config {
	return &schema.Config{Dir: "/cfg", Hash: "cafe", Clusters: []*schema.Cluster{c}}
}

// Observed wraps oc in an observation.
func Observed(oc *state.Cluster) *state.Observed {
	return &state.Observed{Clusters: map[string]*state.Cluster{oc.Name: oc}}
}

// WithTLS gives c and its members client and peer TLS, with host paths
// under /etc/etcd/pki and local sources under srcDir.
func WithTLS(c *schema.Cluster, srcDir string) *schema.Cluster {
	ep := func(m, side string) *schema.TLSEndpoint {
		f := func(name string) schema.TLSFile {
			return schema.TLSFile{Path: "/etc/etcd/pki/" + name, Source: srcDir + "/" + name}
		}
		return &schema.TLSEndpoint{CA: f("ca.crt"), Cert: f(m + "-" + side + ".crt"), Key: f(m + "-" + side + ".key"), ClientCertAuth: true}
	}
	c.TLS = &schema.TLS{Client: ep("member", "client"), Peer: ep("member", "peer"), MinRemaining: 30 * 24 * time.Hour}
	for _, m := range c.Members {
		m.TLS = &schema.TLS{Client: ep(m.Name, "client"), Peer: ep(m.Name, "peer"), MinRemaining: c.TLS.MinRemaining}
		m.PeerURL = "https" + m.PeerURL[len("http"):]
		m.ClientURL = "https" + m.ClientURL[len("http"):]
	}
	return c
}

// Sample returns a plan exercising every action, warnings and refusals,
// over two clusters:
//   - "lab": 3 members growing to 5, with quota_backend_bytes raised,
//     etcd-2 down (stopped) and an unmanaged key on etcd-3;
//   - "prod": 5 members shrinking to 3 while etcd-5 leads, with
//     fault_tolerance = 2, so the removals are refused.
func Sample() *plan.Plan {
	lab := Cluster(1, 2, 3, 4, 5)
	lab.Storage.QuotaBackendBytes = 4 << 30
	labObs := Observe(Cluster(1, 2, 3), 1)
	m := labObs.Member("etcd-2")
	m.Status, m.StatusError = nil, "dial tcp 10.0.0.2:2379: connect: connection refused"
	labObs.Hosts["etcd-2"].ServiceState = "stopped"
	labObs.Hosts["etcd-3"].ConfigUnknown = []string{"enable-pprof"}
	labObs.Hosts["etcd-3"].ConfigContent = append(labObs.Hosts["etcd-3"].ConfigContent, "enable-pprof: true\n"...)
	for _, i := range []int{4, 5} {
		n := fmt.Sprintf("etcd-%d", i)
		labObs.Hosts[n] = &state.Host{Member: n, Address: fmt.Sprintf("10.0.0.%d", i), Reachable: true, DataDirEmpty: true, ServiceState: "stopped", BinaryVersion: "3.6.16"}
	}

	// The lab keeps two dangerous settings: one accepted, one not.
	at := func(line int) hcl.Range {
		return hcl.Range{Filename: "/cfg/main.hcl", Start: hcl.Pos{Line: line, Column: 1}, End: hcl.Pos{Line: line, Column: 10}}
	}
	lab.Risks = []schema.RiskFinding{
		{Risk: schema.RiskCompactionOff, Summary: "Auto compaction off", Subject: at(1),
			Detail: `The cluster lab has no auto compaction. The production guide says: "Without periodic compaction, the database will grow until it hits quota and locks the cluster into read-only mode."`},
		{Risk: schema.RiskPlaintextPeer, Summary: "Peer traffic without TLS", Subject: at(1),
			Accepted: &schema.AcceptedRisk{Risk: schema.RiskPlaintextPeer, Reason: "the members share one rack switch; peer TLS comes with the next certificate rollout", DeclRange: at(40)}},
	}

	prod := Cluster(1, 2, 3)
	prod.Name = "prod"
	prod.FaultTolerance = 2
	prodObs := Observe(Cluster(1, 2, 3, 4, 5), 5)
	prodObs.Name = "prod"

	cfg := &schema.Config{Dir: "/cfg", Hash: "5f1c0de0c0ffee00", Clusters: []*schema.Cluster{lab, prod}}
	obs := &state.Observed{Clusters: map[string]*state.Cluster{"lab": labObs, "prod": prodObs}}
	return plan.Make(cfg, obs, plan.Options{Meta: plan.Meta{
		ToolVersion: "0.1.0-test",
		Time:        time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC),
		GitCommit:   "0123456789abcdef0123456789abcdef01234567",
		Author:      "ci@example.com",
	}})
}
