package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	sshp "github.com/etcdform/etcdform/providers/ssh"
)

// Issue 15 #3, acceptance "Locking": under NOSPACE etcd grants no lease,
// so apply locks a majority of the member hosts instead. While an apply
// that took the in-cluster lock before the alarm still holds it, or
// another apply holds two of the three host locks, apply is refused, says why and
// who, and changes nothing; once they are released the same plan applies:
// the alarm is disarmed and writes work again.
func TestApplyLocksHostsUnderNospace(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := c.Put(ctx, "before-the-alarm", "kept"); err != nil {
		t.Fatal(err)
	}
	// An apply that took the in-cluster lock before the alarm keeps it.
	early, err := otherApply(t, st).Lock(ctx, "lab", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Raise NOSPACE as etcd does when the quota is reached (the planner
	// and the servers cannot tell the difference).
	ms, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mc := etcdserverpb.NewMaintenanceClient(c.ActiveConnection())
	if _, err := mc.Alarm(ctx, &etcdserverpb.AlarmRequest{Action: etcdserverpb.AlarmRequest_ACTIVATE,
		MemberID: ms.Members[0].ID, Alarm: etcdserverpb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "during-the-alarm", "x"); err == nil || !strings.Contains(err.Error(), "database space exceeded") {
		t.Fatalf("put under NOSPACE: %v, want database space exceeded", err)
	}
	pf := planFile(t, config(t, st, nil))
	_, stderr, code := cli(t, applyArgs(t, "--lock-timeout", "5s", pf)...)
	if code != 1 || !strings.Contains(stderr, "another apply holds the lock") || !strings.Contains(stderr, early.Key()) {
		t.Fatalf("apply under NOSPACE while an earlier apply holds the in-cluster lock: exit %d, stderr:\n%s\nwant it refused naming %s", code, stderr, early.Key())
	}
	if err := early.Close(); err != nil { // revoking a lease works under NOSPACE
		t.Fatal(err)
	}

	// Another apply holds the host locks of two members.
	var release []func()
	for _, h := range st.Members()[:2] {
		cli, err := sshp.Dial(ctx, sshp.Config{Host: h.Addr, Port: lab.SSHPort, User: "root",
			PrivateKeyFile: st.KeyFile(), KnownHostsFile: st.KnownHostsFile(), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		l, err := cli.Lock(ctx, "", "the other apply")
		if err != nil {
			t.Fatal(err)
		}
		release = append(release, func() {
			if err := l.Release(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	_, stderr, code = cli(t, applyArgs(t, "--lock-timeout", "5s", pf)...)
	if code != 1 {
		t.Fatalf("apply while another holds the host locks: exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"grants no lease (NOSPACE)", "held by the other apply"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("apply's error does not say %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "another apply is running?") {
		t.Errorf("apply's error guesses instead of saying why:\n%s", stderr)
	}
	if al, err := c.AlarmList(ctx); err != nil || len(al.Alarms) == 0 {
		t.Fatalf("the refused apply changed the alarms: %v, %v", al, err)
	}

	for _, r := range release {
		r()
	}
	if _, stderr, code := cli(t, applyArgs(t, pf)...); code != 0 {
		t.Fatalf("apply under NOSPACE with the host locks free: exit %d, stderr:\n%s", code, stderr)
	}
	labtest.Eventually(t, 30*time.Second, func() error {
		al, err := c.AlarmList(ctx)
		if err != nil {
			return err
		}
		if len(al.Alarms) != 0 {
			return fmt.Errorf("alarms still raised: %v", al.Alarms)
		}
		return nil
	})
	if _, err := c.Put(ctx, "after-the-apply", "x"); err != nil {
		t.Errorf("put after the apply: %v", err)
	}
	if r, err := c.Get(ctx, "before-the-alarm"); err != nil || len(r.Kvs) != 1 {
		t.Errorf("the key written before the alarm: %v, %v", r, err)
	}
}
