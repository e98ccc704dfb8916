package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// lostAll is cluster lab of three members with a backup block whose
// destination holds two snapshots, after a total loss: no endpoint
// answers, every host reachable with etcd installed, the services stopped
// and the data dirs empty.
func lostAll() (*schema.Cluster, *state.Cluster) {
	c, oc := bareCluster()
	c.Install = nil
	c.Backup = &schema.Backup{Destination: "s3://backups/lab"}
	for _, h := range oc.Hosts {
		h.BinaryVersion, h.ServiceState, h.Data = "3.6.16", "stopped", &state.DataDir{}
	}
	oc.Release = nil
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	oc.Backups = &state.Backups{Destination: "s3://backups/lab", Count: 2, Newest: t0.Add(time.Hour), Snapshots: []state.BackupRecord{
		{ID: "lab-1", Object: "lab-1.snap.age", Time: t0, Revision: 30, KeyCount: 10, SHA256: strings.Repeat("a", 64), Size: 4096, Encrypted: true, Recipient: "age1r"},
		{ID: "lab-2", Object: "lab-2.snap.age", Time: t0.Add(time.Hour), Revision: 40, KeyCount: 12, SHA256: strings.Repeat("b", 64), Size: 8192, Encrypted: true, Recipient: "age1r"},
	}}
	return c, oc
}

func TestRestore(t *testing.T) {
	restored := []string{"fetch-backup  0/0",
		"stop-member etcd-1 0/0", "stop-member etcd-2 0/0", "stop-member etcd-3 0/0",
		"restore-member etcd-1 0/0", "restore-member etcd-2 0/0", "restore-member etcd-3 0/0",
		"bootstrap-start etcd-1 0/0", "bootstrap-start etcd-2 0/0", "bootstrap-start etcd-3 0/0"}
	tests := map[string]struct {
		edit     func(c *schema.Cluster, oc *state.Cluster)
		opts     Options
		steps    []string
		refusals []string
		warnings []string
		detail   string // in the first refusal's or warning's detail
		id       string // Meta.RestoreFrom
	}{
		"total loss, plain plan: refused, naming --restore-from, not bootstrapped empty": {
			refusals: []string{"Backups of this cluster exist"},
			detail:   "etcdform plan --restore-from latest",
		},
		"total loss, latest": {
			opts:     Options{RestoreFrom: "latest"},
			steps:    restored,
			warnings: []string{"Restore from a backup"},
			detail:   "DATA LOSS: keys written after revision 40 (the backup's, taken at 2026-12-02T11:00:00Z, 1h0m0s old when planned) are lost",
			id:       "lab-2",
		},
		"total loss, by object name": {
			opts:     Options{RestoreFrom: "lab-1.snap.age"},
			steps:    restored,
			warnings: []string{"Restore from a backup"},
			detail:   "revision 30, 10 keys",
			id:       "lab-1",
		},
		"unknown snapshot": {
			opts:     Options{RestoreFrom: "lab-9"},
			refusals: []string{"Backup not found"},
			detail:   "lab-1, lab-2",
		},
		"a running cluster is never rolled back": {
			edit: func(c *schema.Cluster, oc *state.Cluster) {
				*oc = *observe(c, 1)
				oc.Backups = lostAllBackups()
				for _, h := range oc.Hosts {
					h.DataDirExists = true
				}
			},
			opts:     Options{RestoreFrom: "latest", RestoreOverData: true},
			refusals: []string{"Cluster is running"},
			detail:   "etcd-1 leads it",
		},
		"data dirs with data need --restore-over-data": {
			edit: func(c *schema.Cluster, oc *state.Cluster) {
				h := oc.Hosts["etcd-2"]
				h.DataDirEmpty, h.DataDirBytes, h.Data = false, 1<<20, &state.DataDir{HasWAL: true, MemberID: 0x22, ClusterID: 0xc1}
			},
			opts:     Options{RestoreFrom: "latest"},
			refusals: []string{"Data dirs hold data"},
			detail:   "etcd-2 (member 22 of cluster c1, 1048576 bytes)",
		},
		"--restore-over-data moves them aside": {
			edit: func(c *schema.Cluster, oc *state.Cluster) {
				h := oc.Hosts["etcd-2"]
				h.DataDirEmpty, h.DataDirBytes, h.Data = false, 1<<20, &state.DataDir{HasWAL: true, MemberID: 0x22, ClusterID: 0xc1}
			},
			opts:     Options{RestoreFrom: "latest", RestoreOverData: true},
			steps:    restored,
			warnings: []string{"Restore from a backup"},
			id:       "lab-2",
		},
		"every host must answer": {
			edit: func(c *schema.Cluster, oc *state.Cluster) {
				oc.Hosts["etcd-3"].Reachable, oc.Hosts["etcd-3"].Error = false, "connection refused"
			},
			opts:     Options{RestoreFrom: "latest"},
			refusals: []string{"Restore needs every host"},
		},
		"no backup block": {
			edit:     func(c *schema.Cluster, oc *state.Cluster) { c.Backup = nil },
			opts:     Options{RestoreFrom: "latest"},
			refusals: []string{"No backup destination"},
		},
		"destination not readable": {
			edit:     func(c *schema.Cluster, oc *state.Cluster) { oc.Backups = &state.Backups{Error: "access denied"} },
			opts:     Options{RestoreFrom: "latest"},
			refusals: []string{"Backup destination not readable"},
			warnings: []string{"Backups not observed"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, oc := lostAll()
			if tc.edit != nil {
				tc.edit(c, oc)
			}
			obs := observed(oc)
			obs.Time = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
			p := Make(config(c), obs, tc.opts)
			checkBrief(t, p, tc.steps, tc.refusals, tc.warnings)
			msgs := append(append([]Warning{}, p.Refusals...), p.Warnings...)
			if tc.detail != "" && (len(msgs) == 0 || !strings.Contains(msgs[0].Detail, tc.detail)) {
				t.Errorf("first message lacks %q: %+v", tc.detail, msgs)
			}
			if p.Meta.RestoreFrom != tc.id {
				t.Errorf("Meta.RestoreFrom = %q, want %q", p.Meta.RestoreFrom, tc.id)
			}
		})
	}
}

func lostAllBackups() *state.Backups {
	_, oc := lostAll()
	return oc.Backups
}

// TestRestoreSteps: every member is restored from the same snapshot as a
// member of one new cluster (the whole initial cluster, one new token);
// data moved aside is shown; a plan made again with the saved plan's
// tokens and snapshot ID gives the same steps.
func TestRestoreSteps(t *testing.T) {
	c, oc := lostAll()
	h := oc.Hosts["etcd-2"]
	h.DataDirEmpty, h.DataDirBytes, h.Data = false, 1<<20, &state.DataDir{HasWAL: true, MemberID: 0x22, ClusterID: 0xc1}
	meta := Meta{Time: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	p := Make(config(c), observed(oc), Options{RestoreFrom: "latest", RestoreOverData: true, Meta: meta})
	if len(p.Refusals) > 0 || len(p.Steps) != 10 {
		t.Fatalf("steps %v, refusals %v", brief(p), summaries(p.Refusals))
	}
	token := BootstrapToken("lab", meta)
	for _, s := range p.Steps {
		switch s.Action {
		case FetchBackup, RestoreMember:
			if s.Backup == nil || s.Backup.ID != "lab-2" || s.Backup.SHA256 != strings.Repeat("b", 64) || s.Backup.Revision != 40 || s.Backup.KeyCount != 12 {
				t.Errorf("%s %s: backup %+v", s.Action, s.Member, s.Backup)
			}
		}
		if s.Action == RestoreMember {
			f, err := etcdconf.Parse(s.Config)
			if err != nil || f.File.InitialClusterState != "new" || f.File.InitialClusterToken != token ||
				f.File.InitialCluster != "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380,etcd-3=http://10.0.0.3:2380" || f.File.Name != s.Member {
				t.Errorf("restore-member %s config: %+v, %v", s.Member, f.File, err)
			}
		}
		if s.Action == StopMember && s.Member == "etcd-2" {
			if len(s.Changes) != 2 || !strings.Contains(s.Changes[1].Before, "member 22 of cluster c1") || !strings.Contains(s.Changes[1].After, "moved aside") {
				t.Errorf("stop-member etcd-2 changes: %+v", s.Changes)
			}
		}
	}
	// Apply's re-derivation: later, with the saved tokens and snapshot.
	again := Make(config(c), observed(oc), Options{Meta: Meta{Time: meta.Time.Add(time.Hour), RestoreFrom: p.Meta.RestoreFrom, RestoreOverData: true}, Tokens: PinTokens(p.Steps)})
	if d := CompareSteps(p.Steps, again.Steps); len(d) > 0 {
		t.Errorf("re-derived steps differ: %v", d)
	}
	// A newer backup since: "latest" was pinned to lab-2.
	oc.Backups.Snapshots = append(oc.Backups.Snapshots, state.BackupRecord{ID: "lab-3", Object: "lab-3.snap.age", Time: meta.Time, Revision: 50, KeyCount: 13, SHA256: strings.Repeat("c", 64), Size: 1})
	again = Make(config(c), observed(oc), Options{Meta: Meta{RestoreFrom: p.Meta.RestoreFrom, RestoreOverData: true}, Tokens: PinTokens(p.Steps)})
	if d := CompareSteps(p.Steps, again.Steps); len(d) > 0 {
		t.Errorf("re-derived steps with a newer backup differ: %v", d)
	}
}

// TestRestoreNeedsOneCluster: --restore-from restores one cluster.
func TestRestoreNeedsOneCluster(t *testing.T) {
	c, oc := lostAll()
	c2 := testCluster(4)
	c2.Name = "other"
	cfg := &schema.Config{Clusters: []*schema.Cluster{c, c2}}
	p := Make(cfg, &state.Observed{Clusters: map[string]*state.Cluster{"lab": oc}}, Options{RestoreFrom: "latest"})
	if len(p.Refusals) == 0 || p.Refusals[0].Summary != "Restore needs one cluster" {
		t.Errorf("refusals %v", summaries(p.Refusals))
	}
}
