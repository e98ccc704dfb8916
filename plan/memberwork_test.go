package plan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/pki"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

// TestMemberWorkMergesIntoOneRestart covers issue 14 #5: work that
// different phases record for one member (TLS uploads, a config write, a
// pending restart) ends in its uploads, one write-config and one restart,
// and a learner that is added again gets its files before it is added.
func TestMemberWorkMergesIntoOneRestart(t *testing.T) {
	started := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	short := func(h string) string {
		if len(h) > 8 {
			return h[:8] + ".."
		}
		return h
	}
	// caBundle gives etcd-2 a CA bundle source with a second CA.
	caBundle := func(t *testing.T, l *tlsLab) plan.Change {
		ca2, err := pki.NewCA("second CA")
		if err != nil {
			t.Fatal(err)
		}
		bundle := append(append([]byte{}, l.ca.CertPEM...), ca2.CertPEM...)
		src := l.oc.Hosts["etcd-2"].Sources
		var ci state.CertInfo
		for i := range src {
			if src[i].Role == "client-ca" || src[i].Role == "peer-ca" {
				ci = certFacts(src[i].Role, src[i].Path, "", bundle, nil)
				src[i] = ci
			}
		}
		return plan.Change{Attr: "/etc/etcd/pki/ca.crt", Before: "sha256:" + short(hashHex(l.ca.CertPEM)),
			After: fmt.Sprintf("sha256:%s (serial %s, expires %s)", short(hashHex(bundle)), short(ci.Serial), ci.NotAfter.Format("2006-01-02"))}
	}
	// newLeaf gives member a new peer key and certificate as sources.
	newLeaf := func(t *testing.T, l *tlsLab, member string) {
		var n int
		fmt.Sscanf(member, "etcd-%d", &n)
		leaf, err := l.ca.Issue(pki.Request{CommonName: member, IPs: []string{fmt.Sprintf("10.0.0.%d", n)}, Usage: pki.Peer})
		if err != nil {
			t.Fatal(err)
		}
		l.set(member, "peer", l.ca.CertPEM, leaf.CertPEM, leaf.KeyPEM, false, true)
	}
	// quotaDrift makes etcd-2's file hold another quota than configured.
	quotaDrift := func(l *tlsLab) plan.Change {
		f := *l.oc.Hosts["etcd-2"].Config
		f.QuotaBackendBytes = 1 << 30
		l.oc.Hosts["etcd-2"].Config = &f
		return plan.Change{Attr: "quota-backend-bytes", Before: "1073741824", After: "2147483648"}
	}
	pending := func(l *tlsLab) plan.Change {
		h := l.oc.Hosts["etcd-2"]
		h.ProcessStart, h.ConfigModTime = started, started.Add(time.Minute)
		return plan.Change{Attr: "running-config", Before: "process started 2026-12-02T06:00:00Z", After: "config file of 2026-12-02T06:01:00Z"}
	}

	tests := map[string]struct {
		edit  func(t *testing.T, l *tlsLab) []plan.Change // returns the restart's changes
		steps string
	}{
		"CA bundle, config drift and a pending restart: one write-config, one restart": {
			edit: func(t *testing.T, l *tlsLab) []plan.Change {
				ca := caBundle(t, l)
				q := quotaDrift(l)
				pending(l)
				// The written file is why the restart happens; the
				// pending restart is not listed beside it.
				return []plan.Change{q, ca}
			},
			steps: "snapshot ; upload-file etcd-2 client-ca; write-config etcd-2; restart etcd-2",
		},
		"new key and certificate and config drift: uploads, then one write-config and one restart": {
			edit: func(t *testing.T, l *tlsLab) []plan.Change {
				newLeaf(t, l, "etcd-2")
				return []plan.Change{quotaDrift(l)}
			},
			steps: "snapshot ; upload-file etcd-2 peer-key peer-cert; write-config etcd-2; restart etcd-2",
		},
		"CA bundle and a pending restart: one restart naming both": {
			edit: func(t *testing.T, l *tlsLab) []plan.Change {
				return []plan.Change{caBundle(t, l), pending(l)}
			},
			steps: "snapshot ; upload-file etcd-2 client-ca; restart etcd-2",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			l := newTLSLab(t)
			want := tt.edit(t, l)
			p := l.plan()
			if len(p.Refusals) > 0 {
				t.Fatalf("refusals:\n%s", messages(p.Refusals))
			}
			if got := stepList(p); got != tt.steps {
				t.Fatalf("steps\n %q\nwant\n %q", got, tt.steps)
			}
			last := p.Steps[len(p.Steps)-1]
			if diff := cmp.Diff(want, last.Changes); diff != "" {
				t.Errorf("restart changes (-want +got):\n%s", diff)
			}
		})
	}

	// A learner left stopped by an interrupted apply is removed and added
	// again: its new files go before the AddLearner, under no member ID,
	// and the removed learner is not restarted.
	t.Run("learner added again gets its files first", func(t *testing.T) {
		l := newTLSLab(t)
		lm := l.oc.Member("etcd-3")
		lm.IsLearner, lm.Status, lm.StatusError = true, nil, "connection refused"
		l.oc.Hosts["etcd-3"].ServiceState = "stopped"
		newLeaf(t, l, "etcd-3")
		p := l.plan()
		if len(p.Refusals) > 0 {
			t.Fatalf("refusals:\n%s", messages(p.Refusals))
		}
		want := "snapshot ; remove-member etcd-3; upload-file etcd-3 peer-key peer-cert; add-learner etcd-3; promote etcd-3"
		if got := stepList(p); got != want {
			t.Fatalf("steps\n %q\nwant\n %q", got, want)
		}
		if up := p.Steps[2]; up.MemberID != 0 {
			t.Errorf("upload to the member added again carries member ID %x of the removed learner", up.MemberID)
		}
	})
}
