package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

// fakeHostCase is the fake-host test of one action: a one-step plan run
// against the fakes, the etcd and host calls it must make (between "lock"
// and "hashkv"), typed host operations ("OP HOST") among them.
type fakeHostCase struct {
	step      func(t *testing.T) plan.Step
	wantCalls []string
	// obs, when set, is the observed cluster (testObserved("h1")
	// otherwise); lockCalls, when set, replace the in-cluster lock's
	// "lock" before wantCalls and "unlock" after them.
	obs       func() *state.Observed
	lockCalls [2][]string
	// prelude, when set, are steps the plan holds before the action's
	// (restore-member needs the fetch-backup before it); their calls
	// are among wantCalls.
	prelude func(t *testing.T) []plan.Step
}

// fakeHostCases holds one case per row of the actions table; a new action
// needs one here (TestActionTableFakeHost fails until it has).
var fakeHostCases = map[plan.Action]fakeHostCase{
	plan.AddRole: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.AddRole, Cluster: "lab", Auth: &plan.AuthChange{Role: "app"}}
		},
		wantCalls: []string{"role-add app"},
	},
	plan.GrantPermission: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.GrantPermission, Cluster: "lab", Auth: &plan.AuthChange{Role: "app",
				Permission: &plan.Permission{Type: "read", Key: "/app/", RangeEnd: "/app0"}}}
		},
		wantCalls: []string{`role-grant app read "/app/" "/app0"`},
	},
	plan.RevokePermission: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.RevokePermission, Cluster: "lab", Auth: &plan.AuthChange{Role: "app",
				Permission: &plan.Permission{Type: "write", Key: "/x"}}}
		},
		wantCalls: []string{`role-revoke app "/x" ""`},
	},
	plan.AddUser: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.AddUser, Cluster: "lab", Auth: &plan.AuthChange{User: "reader",
				Password: &plan.PasswordSource{Env: "READER_PW"}}}
		},
		wantCalls: []string{"user-add reader env READER_PW"},
	},
	plan.GrantRole: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.GrantRole, Cluster: "lab", Auth: &plan.AuthChange{User: "reader", Role: "app"}}
		},
		wantCalls: []string{"user-grant reader app"},
	},
	plan.RevokeRole: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.RevokeRole, Cluster: "lab", Auth: &plan.AuthChange{User: "reader", Role: "old"}}
		},
		wantCalls: []string{"user-revoke reader old"},
	},
	plan.SetPassword: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.SetPassword, Cluster: "lab", Auth: &plan.AuthChange{User: "reader",
				Password: &plan.PasswordSource{File: "/run/secrets/reader"}}}
		},
		wantCalls: []string{"set-password reader file /run/secrets/reader"},
	},
	plan.EnableAuth: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.EnableAuth, Cluster: "lab", Auth: &plan.AuthChange{}}
		},
		wantCalls: []string{"auth-enable", "gate"},
	},
	plan.DisableAuth: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.DisableAuth, Cluster: "lab", Auth: &plan.AuthChange{}}
		},
		wantCalls: []string{"auth-disable", "gate"},
	},
	plan.Snapshot: {
		step:      func(*testing.T) plan.Step { return plan.Step{Action: plan.Snapshot, Cluster: "lab"} },
		wantCalls: []string{"snapshot"},
	},
	plan.StartMember: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.StartMember, Cluster: "lab", Member: "b", MemberID: 2}
		},
		wantCalls: []string{"start b", "gate"},
	},
	plan.AddLearner: {
		step:      newMemberStep,
		wantCalls: []string{"gate", "preflight d", "enable d", "add-learner http://d:2380", "install-files d", "start d"},
	},
	plan.Promote: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.Promote, Cluster: "lab", Member: "d", MemberID: 4}
		},
		wantCalls: []string{"gate", "wait-learner 4", "promote 4", "gate"},
	},
	plan.RemoveMember: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.RemoveMember, Cluster: "lab", Member: "c", MemberID: 3, PeerURL: "http://c:2380"}
		},
		wantCalls: []string{"pregate-except 3", "remove 3", "stop c", "disable c", "move-aside c", "gate"},
	},
	plan.UploadFile: {
		step: func(t *testing.T) plan.Step {
			src := filepath.Join(t.TempDir(), "ca.pem")
			data := []byte("a CA bundle")
			if err := os.WriteFile(src, data, 0o600); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			return plan.Step{Action: plan.UploadFile, Cluster: "lab", Member: "b", MemberID: 2,
				Uploads: []plan.Upload{{Role: "client-ca", Path: "/etc/etcd/pki/ca.pem", Source: src, SHA256: hex.EncodeToString(sum[:]), Mode: 0o644}}}
		},
		wantCalls: []string{"install-files b", "gate"},
	},
	plan.InstallBackupJob: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.InstallBackupJob, Cluster: "lab", Member: "b", MemberID: 2,
				Job: &plan.JobInstall{Remove: []string{"/etc/cron.d/etcdform-backup-lab"}}}
		},
		wantCalls: []string{"install-job b", "gate"},
	},
	plan.WriteConfig: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.WriteConfig, Cluster: "lab", Member: "b", MemberID: 2, Config: []byte("name: b\n")}
		},
		wantCalls: []string{"install-files b"},
	},
	plan.Restart: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.Restart, Cluster: "lab", Member: "a", MemberID: 1}
		},
		wantCalls: []string{"pregate-except 1", "move-leader-from 1", "pregate-except 1", "restart a", "gate"},
	},
	plan.Compact: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.Compact, Cluster: "lab", Revision: 4711}
		},
		wantCalls: []string{"compact 4711", "gate"},
	},
	plan.Defrag: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.Defrag, Cluster: "lab", Member: "b", MemberID: 2}
		},
		wantCalls: []string{"pregate-except 2", "db-sizes", "defrag 2", "gate"},
	},
	plan.InstallBinary: {
		step: func(t *testing.T) plan.Step {
			src := filepath.Join(t.TempDir(), "sha256-x")
			data := []byte("an etcd binary")
			if err := os.WriteFile(src, data, 0o755); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			return plan.Step{Action: plan.InstallBinary, Cluster: "lab", Member: "b", MemberID: 2,
				Uploads: []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: src, SHA256: hex.EncodeToString(sum[:]), Mode: 0o755}}}
		},
		wantCalls: []string{"install-files b"},
	},
	plan.InstallService: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.InstallService, Cluster: "lab", Member: "b", Config: []byte("[Unit]\n")}
		},
		wantCalls: []string{"install-service b"},
	},
	plan.UpgradeMember: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.UpgradeMember, Cluster: "lab", Member: "a", MemberID: 1,
				Uploads: []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: "/cache/sha256-ab", SHA256: "ab", Mode: 0o755}}}
		},
		wantCalls: []string{"pregate-except 1", "swap-staged a", "move-leader-from 1", "pregate-except 1", "restart a", "member-version 1", "gate"},
	},
	plan.DowngradeMember: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.DowngradeMember, Cluster: "lab", Member: "a", MemberID: 1,
				Uploads: []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: "/cache/sha256-ab", SHA256: "ab", Mode: 0o755}}}
		},
		wantCalls: []string{"pregate-except 1", "swap-staged a", "move-leader-from 1", "pregate-except 1", "restart a", "member-version 1", "gate"},
	},
	plan.DowngradeValidate: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.DowngradeValidate, Cluster: "lab", Version: "3.5.35"}
		},
		wantCalls: []string{"gate", "downgrade validate 3.5"},
	},
	plan.DowngradeEnable: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.DowngradeEnable, Cluster: "lab", Version: "3.5.35"}
		},
		wantCalls: []string{"gate", "downgrade enable 3.5", "versions", "gate"},
	},
	plan.WaitClusterVersion: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.WaitClusterVersion, Cluster: "lab", Version: "3.6.16", Voters: 3}
		},
		wantCalls: []string{"versions", "gate"},
	},
	plan.StageBinary: {
		step: func(t *testing.T) plan.Step {
			src := filepath.Join(t.TempDir(), "sha256-x")
			data := []byte("an etcd binary")
			if err := os.WriteFile(src, data, 0o755); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			return plan.Step{Action: plan.StageBinary, Cluster: "lab", Member: "b", MemberID: 2,
				Uploads: []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: src, SHA256: hex.EncodeToString(sum[:]), Mode: 0o755}}}
		},
		wantCalls: []string{"stage-files b"},
	},
	plan.CheckV2Store: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.CheckV2Store, Cluster: "lab", Member: "b", MemberID: 2}
		},
		wantCalls: []string{"check-v2store b"},
	},
	plan.BootstrapStart: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.BootstrapStart, Cluster: "lab", Member: "b"}
		},
		wantCalls: []string{"enable b", "launch b", "gate"},
	},
	plan.StopMember: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.StopMember, Cluster: "lab", Member: "b", MemberID: 2}
		},
		wantCalls: []string{"stop b", "disable b", "move-aside b"},
	},
	// The recovery from a survivor takes the host locks (a cluster without
	// quorum grants no lease), and the in-cluster lock once it is done.
	plan.RecoverSurvivor: {
		step:      survivorStep,
		obs:       func() *state.Observed { return survivorObserved() },
		lockCalls: [2][]string{{"host-lock a"}, {"unlock", "host-unlock a"}},
		wantCalls: []string{"stop a", "move-aside a", "restore a", "install-files a", "enable a", "start a", "gate", "lock"},
	},
	// A fetch-backup touches no host.
	plan.FetchBackup: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.FetchBackup, Cluster: "lab", Backup: testBackup()}
		},
	},
	// A restore takes the host locks (no quorum); the snapshot is
	// streamed to the host's restore, then the config written.
	plan.RestoreMember: {
		prelude: func(*testing.T) []plan.Step {
			return []plan.Step{{Action: plan.FetchBackup, Cluster: "lab", Backup: testBackup()}}
		},
		step:      restoreStep,
		obs:       func() *state.Observed { return survivorObserved() },
		lockCalls: [2][]string{{"host-lock a"}, {"host-unlock a"}},
		wantCalls: []string{"restore a", "install-files a"},
	},
	plan.DisarmAlarm: {
		step: func(*testing.T) plan.Step {
			return plan.Step{Action: plan.DisarmAlarm, Cluster: "lab", Member: "b", MemberID: 2, Alarm: "NOSPACE", Quota: 160 << 20}
		},
		// A plan made under NOSPACE tries the host locks beside the
		// in-cluster lock; b's alone is no majority of 3, and the
		// in-cluster lock is held.
		lockCalls: [2][]string{{"lock", "host-lock b", "host-unlock b"}, {"unlock"}},
		wantCalls: []string{"db-sizes", "disarm 2 NOSPACE", "gate"},
	},
}

// TestActionTableFakeHost runs a one-step plan of every action in the
// actions table against the fake etcd and hosts, through Run and the
// action's handler, and checks that the gates apply puts around it are
// the row's Before and After.
func TestActionTableFakeHost(t *testing.T) {
	for _, info := range plan.Actions() {
		t.Run(info.Name, func(t *testing.T) {
			if !HasHandler(info.Action) {
				t.Errorf("action %s has no handler in apply's handlers map", info.Name)
			}
			tc, ok := fakeHostCases[info.Action]
			if !ok {
				t.Fatalf("action %s has no fake-host case in apply/actiontable_test.go (fakeHostCases)", info.Name)
			}
			obs := func() *state.Observed { return testObserved("h1") }
			if tc.obs != nil {
				obs = tc.obs
			}
			w := &fakeWorld{leader: 1, obs: obs()}
			var steps []plan.Step
			if tc.prelude != nil {
				steps = tc.prelude(t)
			}
			steps = append(steps, tc.step(t))
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(obs()),
				Steps: steps}
			phases := map[string]bool{}
			res, err := Run(t.Context(), withTargets(testConfig(), p), fakeConn{w}, Options{
				Progress:    func(e Event) { phases[e.Phase] = true },
				SnapshotDir: t.TempDir(), Audit: NewAudit(io.Discard, "planhash", "abc", "me"), Now: func() time.Time { return time.Unix(0, 0) },
				FetchBackup: fakeFetch,
			})
			if last := res.Steps[len(res.Steps)-1]; err != nil || last.Outcome != "done" {
				t.Fatalf("outcome %s, err %v", last.Outcome, err)
			}
			lock, unlock := []string{"lock"}, []string{"unlock"}
			if tc.lockCalls[0] != nil {
				lock, unlock = tc.lockCalls[0], tc.lockCalls[1]
			}
			// A risky step is preceded by the comparison of the members'
			// HashKV (not in a recovery from a lost quorum).
			var pre []string
			if info.Risky && info.Action != plan.RecoverSurvivor {
				pre = []string{"hashkv-before"}
			}
			want := append(append(append(append(lock, pre...), tc.wantCalls...), "hashkv", "put-audit"), unlock...)
			calls := hostLocksSorted(w.calls)
			if diff := cmp.Diff(want, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			// The gates come from the row.
			before, after := phases["checking health before the step"], phases["waiting for health"]
			if (info.Before != plan.GateNone) != before {
				t.Errorf("row's before gate is %v; apply gated before the step: %v", info.Before, before)
			}
			gateCall := calls[len(lock)+len(pre)]
			if others := gateCall == fmt.Sprintf("pregate-except %d", p.Steps[0].MemberID); before && (info.Before == plan.GateOthers) != others {
				t.Errorf("row's before gate is %v, the gate's call is %q", info.Before, gateCall)
			}
			if (info.After != plan.GateNone) != after {
				t.Errorf("row's after gate is %v; apply gated after the step: %v", info.After, after)
			}
		})
	}
}
