package etcd

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
	"github.com/etcdform/etcdform/state"
)

// TestDown: a member whose etcd was killed (nothing listens on its client
// port) fails its status probe with the refused connection, not the
// endpoint timeout; a member whose endpoint accepts connections but never
// answers (a hung host) is asked once: a second client sharing the same
// Down does not ask it again where its answer is not needed (who leads,
// the snapshot source), and the gate still asks every member afresh.
func TestDown(t *testing.T) {
	ec := etcdtest.NewCluster(t, 5) // two down keep a quorum
	down := NewDown()
	c1, err := New(ec.Endpoints(), WithEndpointTimeout(time.Second), WithDown(down))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	oc := c1.Observe(deadline(t, 10*time.Second))
	var killed, hung string
	for _, m := range oc.Members {
		if m.ID == oc.LeaderID {
			continue
		}
		if killed == "" {
			killed = m.Name
		} else {
			hung = m.Name
		}
	}
	for _, n := range []string{killed, hung} {
		if err := ec.Member(n).Kill(); err != nil {
			t.Fatal(err)
		}
	}
	// The hung member: a listener that accepts and never answers.
	u, err := url.Parse(ec.Member(hung).ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	oc = c1.Observe(deadline(t, 10*time.Second))
	if m := oc.Member(killed); m.Status != nil || !strings.Contains(m.StatusError, "connection refused") {
		t.Errorf("killed %s: status %v, error %q; want the refused connection", killed, m.Status, m.StatusError)
	}
	if m := oc.Member(hung); m.Status != nil || strings.Contains(m.StatusError, ErrKnownDown.Error()) {
		t.Errorf("hung %s, first asked: status %v, error %q; want a timeout", hung, m.Status, m.StatusError)
	}

	// A second client of the same apply does not ask them again for the
	// leader or the snapshot source.
	c2 := newClientWith(t, ec.Endpoints(), WithDown(down))
	ms, _, err := c2.Members(deadline(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range c2.statuses(deadline(t, 10*time.Second), ms, false) {
		if st.Member.Name == hung && !errors.Is(st.Err, ErrKnownDown) {
			t.Errorf("hung %s asked again: %v", hung, st.Err)
		}
		if st.Member.Name != hung && st.Member.Name != killed && st.Err != nil {
			t.Errorf("live %s: %v", st.Member.Name, st.Err)
		}
	}
	if _, _, err := c2.Leader(deadline(t, 10*time.Second)); err != nil {
		t.Errorf("leader with two members down: %v", err)
	}
	// The gate asks afresh: the hung member fails it with a timeout.
	rep, err := c2.Gate(deadline(t, 10*time.Second), GateOptions{})
	if err == nil || strings.Contains(rep.String(), ErrKnownDown.Error()) {
		t.Errorf("gate with %s hung: %v", hung, err)
	}
	// An endpoint that answers again is forgotten.
	ln.Close()
	if err := ec.Member(hung).Start(); err != nil {
		t.Fatal(err)
	}
	if err := ec.Member(hung).WaitHealthy(deadline(t, etcdtest.StartTimeout)); err != nil {
		t.Fatal(err)
	}
	m := findMemberNamed(t, ms, hung)
	if _, err := c2.status(deadline(t, 10*time.Second), m.ClientURLs[0], true); err != nil {
		t.Fatal(err)
	}
	if err := down.known(m.ClientURLs[0]); err != nil {
		t.Errorf("%s answered but is still known as down: %v", hung, err)
	}
}

func newClientWith(t *testing.T, eps []string, opts ...Option) *Client {
	t.Helper()
	c, err := New(eps, append([]Option{WithEndpointTimeout(time.Second), WithPollInterval(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func findMemberNamed(t *testing.T, ms []Member, name string) Member {
	t.Helper()
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no member %s", name)
	return Member{}
}

// TestDownNoQuorum: once an observation found no quorum (no linearizable
// member list), it and later observations of the same apply read a
// member's own view at once and do not wait on the alarm list; a passing
// gate forgets it.
func TestDownNoQuorum(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	down := NewDown()
	c := newClientWith(t, ec.Endpoints(), WithDown(down))
	for _, m := range ec.Members[:2] {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	// The member list's linearizable read fails: the alarm list (a raft
	// request too) is not sent.
	oc := c.Observe(deadline(t, 20*time.Second))
	if !oc.Reachable || !strings.Contains(oc.Error, "alarm list") || !down.quorumLost() {
		t.Fatalf("first observation without quorum: reachable %v, error %q, known %v", oc.Reachable, oc.Error, down.quorumLost())
	}
	oc = c.Observe(deadline(t, 20*time.Second))
	if !oc.Reachable || len(oc.Members) != 3 || !strings.Contains(oc.Error, ErrKnownNoQuorum.Error()) {
		t.Fatalf("second observation: reachable %v, %d members, error %q; want the alarm list not asked", oc.Reachable, len(oc.Members), oc.Error)
	}
	for _, m := range ec.Members[:2] {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.WaitHealthy(deadline(t, etcdtest.StartTimeout), GateOptions{}); err != nil {
		t.Fatal(err)
	}
	if down.quorumLost() {
		t.Error("a passing gate did not forget the lost quorum")
	}
	if oc := c.Observe(deadline(t, 20*time.Second)); oc.Error != "" {
		t.Errorf("observation after the quorum came back: %q", oc.Error)
	}
}

// TestAssumeQuorumLostSeesALeader: an apply of a plan made without a
// leader starts from a member's own view (AssumeQuorumLost). On a cluster
// whose quorum is back, that observation still names the leader, so its
// fingerprint has no Leaderless and the plan made without a leader no
// longer matches it (apply refuses it as stale).
func TestAssumeQuorumLostSeesALeader(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	down := NewDown()
	down.AssumeQuorumLost()
	c := newClientWith(t, ec.Endpoints(), WithDown(down))
	oc := c.Observe(deadline(t, 20*time.Second))
	if !oc.Reachable || !strings.Contains(oc.Error, ErrKnownNoQuorum.Error()) {
		t.Fatalf("observation assuming no quorum: reachable %v, error %q; want the alarm list not asked", oc.Reachable, oc.Error)
	}
	if oc.LeaderID == 0 {
		t.Fatal("no leader in the observation of a healthy cluster")
	}
	obs := &state.Observed{Clusters: map[string]*state.Cluster{"c": oc}}
	if fp := state.FingerprintOf(obs); fp.Clusters[0].Leaderless != "" {
		t.Errorf("fingerprint of a cluster with a leader is leaderless: %q", fp.Clusters[0].Leaderless)
	}
}
