package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

func sshClient(t *testing.T, st *lab.State, addr string) (*ssh.Client, error) {
	t.Helper()
	keyPEM, err := os.ReadFile(st.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(st.KnownHostsFile())
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", net.JoinHostPort(addr, "22"), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hk, Timeout: 3 * time.Second,
	})
}

func etcdClient(t *testing.T, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestLabE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3, Spare: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if len(st.Hosts) != 4 || len(st.Members()) != 3 {
		t.Fatalf("hosts=%d members=%d, want 4 and 3", len(st.Hosts), len(st.Members()))
	}

	t.Run("ssh with strict host keys reaches every host", func(t *testing.T) {
		for _, h := range st.Hosts {
			c, err := sshClient(t, st, h.Addr)
			if err != nil {
				t.Fatalf("ssh %s: %v", h.Name, err)
			}
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			out, err := sess.CombinedOutput("test -x /usr/local/bin/etcd && cat /etc/etcd/etcd.conf.yml 2>/dev/null | grep '^name:' || echo spare")
			c.Close()
			if err != nil {
				t.Fatalf("ssh %s: %v: %s", h.Name, err, out)
			}
			want := "name: " + h.Name
			if !h.Member {
				want = "spare"
			}
			if strings.TrimSpace(string(out)) != want {
				t.Errorf("host %s: got %q, want %q (each host must see its own /etc/etcd)", h.Name, out, want)
			}
		}
	})

	t.Run("a wrong host key is refused", func(t *testing.T) {
		// known_hosts pins each address to its own key: presenting host 1's
		// address with host 2's key entry must fail.
		hosts := st.Members()
		data, err := os.ReadFile(st.KnownHostsFile())
		if err != nil {
			t.Fatal(err)
		}
		var swapped []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Fields(line)
			if f[0] == hosts[1].Addr {
				swapped = append(swapped, hosts[0].Addr+" "+f[1]+" "+f[2])
			}
		}
		bad := t.TempDir() + "/known_hosts"
		if err := os.WriteFile(bad, []byte(strings.Join(swapped, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		hk, err := knownhosts.New(bad)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := os.ReadFile(st.KeyFile())
		signer, _ := ssh.ParsePrivateKey(keyPEM)
		_, err = ssh.Dial("tcp", net.JoinHostPort(hosts[0].Addr, "22"), &ssh.ClientConfig{
			User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 3 * time.Second,
		})
		var kerr *knownhosts.KeyError
		if !errors.As(err, &kerr) || len(kerr.Want) == 0 {
			t.Fatalf("dial with a wrong host key: got %v, want a knownhosts key mismatch", err)
		}
	})

	var endpoints []string
	for _, h := range st.Members() {
		endpoints = append(endpoints, h.ClientURL())
	}

	t.Run("member list shows 3 started voters", func(t *testing.T) {
		resp, err := etcdClient(t, endpoints...).MemberList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		voters := 0
		for _, m := range resp.Members {
			if !m.IsLearner && m.Name != "" && len(m.ClientURLs) > 0 {
				voters++
			}
		}
		if voters != 3 {
			t.Fatalf("started voting members = %d, want 3: %v", voters, resp.Members)
		}
	})

	victim := st.Members()[0]
	t.Run("kill one member: a leader remains and status reports it down", func(t *testing.T) {
		if err := st.Fault(ctx, lab.FaultKill, victim.Name); err != nil {
			t.Fatal(err)
		}
		for _, r := range st.Status(ctx) {
			if r.Name == victim.Name && (r.Running || r.Healthy) {
				t.Fatalf("status after kill: %+v, want not running and not healthy", r)
			}
		}
		c := etcdClient(t, endpoints[1:]...)
		labtest.Eventually(t, 20*time.Second, func() error {
			for _, ep := range endpoints[1:] {
				s, err := c.Status(ctx, ep)
				if err != nil {
					return err
				}
				if s.Leader == 0 {
					return fmt.Errorf("%s reports no leader", ep)
				}
			}
			// A quorum write proves the leader is real.
			_, err := c.Put(ctx, "lab-test", "after-kill")
			return err
		})
		if err := st.Fault(ctx, lab.FaultStart, victim.Name); err != nil {
			t.Fatal(err)
		}
		labtest.Eventually(t, 30*time.Second, func() error {
			if !lab.Healthy(ctx, victim.ClientURL()) {
				return fmt.Errorf("%s not healthy after start", victim.Name)
			}
			return nil
		})
	})

	part := st.Members()[2]
	t.Run("partition cuts a host off and heal brings it back", func(t *testing.T) {
		if err := st.Fault(ctx, lab.FaultPartition, part.Name); err != nil {
			t.Fatal(err)
		}
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(part.Addr, "22")); err == nil {
			c.Close()
			t.Fatalf("partitioned host %s still reachable", part.Name)
		}
		if err := st.Fault(ctx, lab.FaultHeal, part.Name); err != nil {
			t.Fatal(err)
		}
		labtest.Eventually(t, 30*time.Second, func() error {
			if !lab.Healthy(ctx, part.ClientURL()) {
				return fmt.Errorf("%s not healthy after heal", part.Name)
			}
			// It rejoined: it reports the same leader as the others.
			c := etcdClient(t, endpoints...)
			var leaders []uint64
			for _, ep := range endpoints {
				s, err := c.Status(ctx, ep)
				if err != nil {
					return err
				}
				leaders = append(leaders, s.Leader)
			}
			if leaders[0] == 0 || leaders[0] != leaders[1] || leaders[1] != leaders[2] {
				return fmt.Errorf("leaders disagree: %v", leaders)
			}
			return nil
		})
	})

	dark := st.Members()[1]
	t.Run("blackhole cuts a host off the others but not off the runner, heal brings it back", func(t *testing.T) {
		if err := st.Fault(ctx, lab.FaultBlackhole, dark.Name); err != nil {
			t.Fatal(err)
		}
		healed := false
		defer func() {
			if !healed {
				st.Fault(context.Background(), lab.FaultHeal, dark.Name)
			}
		}()
		// The runner still reaches it: SSH and its status answer, and
		// it sees no leader (it hears no peer); the others elect or keep
		// one among themselves and take a quorum write.
		if c, err := sshClient(t, st, dark.Addr); err != nil {
			t.Fatalf("ssh to the blackholed host: %v", err)
		} else {
			c.Close()
		}
		c := etcdClient(t, endpoints...)
		labtest.Eventually(t, 30*time.Second, func() error {
			s, err := c.Status(ctx, dark.ClientURL())
			if err != nil {
				return fmt.Errorf("status of the blackholed %s: %w", dark.Name, err)
			}
			if s.Leader != 0 {
				return fmt.Errorf("blackholed %s still reports leader %x", dark.Name, s.Leader)
			}
			return nil
		})
		others := etcdClient(t, endpoints[0], endpoints[2])
		labtest.Eventually(t, 30*time.Second, func() error {
			_, err := others.Put(ctx, "lab-test", "blackhole")
			return err
		})
		// Peer to peer, the frames go nowhere: a connection from another
		// host to its peer port gets no answer at all (no reset).
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", st.Members()[0].Netns, "timeout", "2",
			"bash", "-c", "exec 3<>/dev/tcp/"+dark.Addr+"/2380").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 124 {
			t.Errorf("connecting from %s to the blackholed peer port: %v %s, want a timeout (exit 124)", st.Members()[0].Name, err, out)
		}
		if err := st.Fault(ctx, lab.FaultHeal, dark.Name); err != nil {
			t.Fatal(err)
		}
		healed = true
		labtest.Eventually(t, 30*time.Second, func() error {
			var leaders []uint64
			for _, ep := range endpoints {
				s, err := c.Status(ctx, ep)
				if err != nil {
					return err
				}
				leaders = append(leaders, s.Leader)
			}
			if leaders[0] == 0 || leaders[0] != leaders[1] || leaders[1] != leaders[2] {
				return fmt.Errorf("leaders disagree after heal: %v", leaders)
			}
			return nil
		})
	})

	t.Run("cut-ssh resets an open SSH session, and a new one works", func(t *testing.T) {
		h := st.Members()[0]
		c, err := sshClient(t, st, h.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Start("echo started; exec sleep 60"); err != nil {
			t.Fatal(err)
		}
		if err := st.Fault(ctx, lab.FaultCutSSH, h.Name); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- sess.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("the session ended cleanly after cut-ssh")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the session still runs 30s after cut-ssh")
		}
		c2, err := sshClient(t, st, h.Addr)
		if err != nil {
			t.Fatalf("a new connection after cut-ssh: %v", err)
		}
		c2.Close()
	})

	t.Run("HoldStop holds a stop open until released", func(t *testing.T) {
		h := st.Members()[2]
		hold, err := st.HoldStop(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		stopped := make(chan error, 1)
		go func() { stopped <- st.Fault(ctx, lab.FaultStop, h.Name) }()
		labtest.Eventually(t, 30*time.Second, func() error {
			if !hold.Held() {
				return fmt.Errorf("the stop of %s is not held yet", h.Name)
			}
			return nil
		})
		if lab.Healthy(ctx, h.ClientURL()) {
			t.Errorf("%s answers /health while its stop is held", h.Name)
		}
		select {
		case err := <-stopped:
			t.Fatalf("sv down returned (%v) while the stop was held", err)
		default:
		}
		if err := hold.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-stopped; err != nil {
			t.Fatalf("stop after the release: %v", err)
		}
		if err := st.Fault(ctx, lab.FaultStart, h.Name); err != nil {
			t.Fatal(err)
		}
		labtest.Eventually(t, 30*time.Second, func() error {
			if !lab.Healthy(ctx, h.ClientURL()) {
				return fmt.Errorf("%s not healthy after start", h.Name)
			}
			return nil
		})
	})

	t.Run("up twice is refused", func(t *testing.T) {
		_, err := lab.Up(ctx, lab.Options{Dir: st.Dir}, nil)
		if !errors.Is(err, lab.ErrAlreadyUp) {
			t.Fatalf("second up: %v, want ErrAlreadyUp", err)
		}
		if len(st.Status(ctx)) != 4 || !lab.Healthy(ctx, endpoints[0]) {
			t.Fatal("the refused second up disturbed the running lab")
		}
	})

	t.Run("down removes namespaces and processes", func(t *testing.T) {
		pidsBefore := st.ProcessesLeft()
		if len(pidsBefore) == 0 {
			t.Fatal("no processes found in the lab's namespaces before down")
		}
		downLeavesNothing(ctx, t, st, pidsBefore)
		if err := exec.Command("ip", "link", "show", st.Bridge).Run(); err == nil {
			t.Errorf("bridge %s left after down", st.Bridge)
		}
	})
}

// downLeavesNothing brings the lab down and checks that none of its
// network namespaces, and none of pids (its processes before), is left.
func downLeavesNothing(ctx context.Context, t *testing.T, st *lab.State, pids []int) {
	t.Helper()
	if err := lab.Down(ctx, st.Dir); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), st.Prefix) {
		t.Fatalf("namespaces left after down:\n%s", out)
	}
	for _, pid := range pids {
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(stat), ") Z") {
			t.Errorf("process %d still running after down: %s", pid, stat)
		}
	}
}

func TestLabBadInput(t *testing.T) {
	labtest.SkipShort(t)
	if err := lab.Preflight(); err != nil {
		t.Skip(err)
	}
	ctx := t.Context()
	for name, opts := range map[string]lab.Options{
		"too many members": {Members: 8},
		"bad subnet":       {Members: 1, Subnet: "not-a-subnet"},
		"subnet too small": {Members: 1, Subnet: "10.213.5.0/28"},
		"subnet in use":    {Members: 1, Subnet: "127.0.0.0/24"},
	} {
		t.Run(name, func(t *testing.T) {
			opts.Dir = t.TempDir()
			_, err := lab.Up(ctx, opts, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			prefix, _ := lab.Prefix(opts.Dir)
			out, _ := exec.Command("ip", "netns", "list").Output()
			if strings.Contains(string(out), prefix) {
				t.Fatalf("half-built lab left behind after %v", err)
			}
		})
	}
}
