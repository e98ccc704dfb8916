package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	sshp "github.com/etcdform/etcdform/providers/ssh"
)

// planUsage is one `etcdform plan` run as the kernel accounted it.
type planUsage struct {
	wall, cpu time.Duration // cpu: user + system of the etcdform process
	maxRSS    int64         // bytes
	machine   time.Duration // CPU time every core of the machine spent busy during the plan (etcdform, the labs' sshd and etcd, idle or not, the kernel)
	changes   bool          // exit 2: a converged lab looked changed (a member slow to answer under load)
}

func runPlan(b *testing.B, args ...string) planUsage {
	b.Helper()
	cmd := exec.Command(binary, append([]string{"plan", "--detailed-exitcode"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	busy0 := machineBusy(b)
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	busy := machineBusy(b) - busy0
	ee, isExit := err.(*exec.ExitError)
	if err != nil && (!isExit || ee.ExitCode() != 2) {
		b.Fatalf("plan %v: %v\n%s", args, err, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return planUsage{wall: wall, cpu: cpu, maxRSS: ru.Maxrss * 1024, machine: busy, changes: err != nil}
}

// machineBusy is the CPU time all cores have spent busy since boot (the
// first line of /proc/stat: user, nice, system, irq, softirq, steal; in
// USER_HZ ticks, 100 per second on Linux).
func machineBusy(b *testing.B) time.Duration {
	b.Helper()
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		b.Fatalf("/proc/stat: unexpected first line %q", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			b.Fatalf("/proc/stat: %q: %v", line, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func medianUsage(us []planUsage) planUsage {
	pick := func(f func(planUsage) int64) int64 {
		v := make([]int64, len(us))
		for i, u := range us {
			v[i] = f(u)
		}
		return median(v)
	}
	return planUsage{
		wall:    time.Duration(pick(func(u planUsage) int64 { return int64(u.wall) })),
		cpu:     time.Duration(pick(func(u planUsage) int64 { return int64(u.cpu) })),
		maxRSS:  pick(func(u planUsage) int64 { return u.maxRSS }),
		machine: time.Duration(pick(func(u planUsage) int64 { return int64(u.machine) })),
	}
}

// BenchmarkFleetPlan (issue 19): `etcdform plan` of 1, 5 and 20 clusters
// of 3 real members each (labs side by side, one cluster file each), and
// `plan --cluster` of one cluster among the 20: wall time, etcdform's own
// CPU time (user + system, from the kernel's accounting of the process)
// and its peak RSS, medians of 5 runs. The baseline in the same run is the
// plan of one cluster: the ratios say how the fleet scales against it.
// Last, the floor under the wall time on this machine: one bare SSH
// connection to each host of the largest size, all at once (sshFloor).
//
// ETCDFORM_BENCH_FLEET_CLUSTERS=5 stops at 5 clusters (fewer labs, for a
// shared machine): sizes above it are skipped, and the --cluster run picks
// one cluster among the largest size measured.
func BenchmarkFleetPlan(b *testing.B) {
	const runs = 5
	clusters := 20
	if v := os.Getenv("ETCDFORM_BENCH_FLEET_CLUSTERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 20 {
			b.Fatalf("ETCDFORM_BENCH_FLEET_CLUSTERS=%q: want 1 to 20", v)
		}
		clusters = n
	}
	var sizes []int
	dirs := map[int]string{}
	for _, n := range []int{1, 5, 20} {
		if n < clusters {
			sizes = append(sizes, n)
			dirs[n] = b.TempDir()
		}
	}
	sizes = append(sizes, clusters)
	dirs[clusters] = b.TempDir()
	var labs []*lab.State
	for i := 1; i <= clusters; i++ {
		st := labtest.Up(b, lab.Options{Members: 3})
		labs = append(labs, st)
		name := fmt.Sprintf("c%02d", i)
		hcl := labtest.ClusterHCL(b, st, labtest.WithName(name))
		for n, dir := range dirs {
			if i <= n {
				if err := os.WriteFile(filepath.Join(dir, name+".hcl"), []byte(hcl), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	// What the idle labs (heartbeats, runit) keep the machine busy with,
	// as a number of cores, to tell the plans' own work from it.
	busy0, t0 := machineBusy(b), time.Now()
	time.Sleep(3 * time.Second) // a measuring interval, not a wait for a condition
	idle := float64(machineBusy(b)-busy0) / float64(time.Since(t0))
	fmt.Printf("the %d idle labs keep %.2f of %d cores busy\n", clusters, idle, runtime.NumCPU())
	changed := 0
	measure := func(args ...string) planUsage {
		runPlan(b, args...) // warm: page cache, ARP
		var us []planUsage
		for range runs {
			u := runPlan(b, args...)
			if u.changes {
				changed++
			}
			us = append(us, u)
		}
		return medianUsage(us)
	}
	res := map[string]planUsage{}
	members := map[string]int{}
	names := map[string]string{}
	var keys []string
	for _, n := range sizes {
		k := fmt.Sprint(n)
		res[k], members[k], names[k] = measure(dirs[n]), 3*n, fmt.Sprintf("%d clusters", n)
		keys = append(keys, k)
	}
	names["1"] = "1 cluster"
	one := fmt.Sprintf("1of%d", clusters)
	res[one] = measure("--cluster", fmt.Sprintf("c%02d", min(7, clusters)), dirs[clusters])
	members[one], names[one] = 3, fmt.Sprintf("--cluster of 1 in %d", clusters)
	keys = append(keys, one)
	base := res["1"]
	for _, k := range keys {
		u := res[k]
		b.ReportMetric(ms(u.wall), k+"-wall-ms")
		b.ReportMetric(ms(u.cpu), k+"-cpu-ms")
		b.ReportMetric(float64(u.maxRSS)/(1<<20), k+"-rss-MiB")
		b.ReportMetric(ms(u.machine), k+"-machine-cpu-ms")
		fmt.Printf("plan %-22s wall %6.0f ms (%.2fx of 1 cluster), etcdform CPU %5.0f ms (%.1f ms per member), peak RSS %5.1f MiB\n",
			names[k]+":", ms(u.wall), float64(u.wall)/float64(base.wall), ms(u.cpu), ms(u.cpu)/float64(members[k]), float64(u.maxRSS)/(1<<20))
		own := ms(u.machine) - idle*ms(u.wall) // about: the idle labs get less CPU while a plan competes
		b.ReportMetric((own-ms(u.cpu))/float64(members[k]), k+"-hosts-cpu-ms-per-member")
		fmt.Printf("     %-22s machine busy %6.0f ms (%.0f%% of %d cores over the wall); less the idle labs' share, the plan's own about %.0f ms: %.0f ms per member on its host and etcd besides etcdform's\n",
			"", ms(u.machine), 100*float64(u.machine)/float64(u.wall)/float64(runtime.NumCPU()), runtime.NumCPU(), own, (own-ms(u.cpu))/float64(members[k]))
	}
	b.ReportMetric(float64(changed), "plans-with-changes")
	fmt.Printf("%d of %d measured plans of the converged labs had changes (a member too slow to answer its status in time: the machine's load)\n", changed, len(keys)*runs)
	if clusters > 1 {
		per := float64(res[fmt.Sprint(clusters)].maxRSS-base.maxRSS) / (1 << 20) / float64(clusters-1)
		b.ReportMetric(per, "rss-MiB-per-cluster")
		fmt.Printf("peak RSS grows %.2f MiB per cluster (%.2f MiB per member) from 1 to %d clusters\n", per, per/3, clusters)
	}
	// The floor under the wall time on this machine: the hosts' sshd run
	// on the same cores, and any plan that reads every host opens at
	// least one SSH connection to each.
	fw, fm := sshFloor(b, labs, runs)
	b.ReportMetric(ms(fw), "ssh-floor-wall-ms")
	b.ReportMetric(ms(fm), "ssh-floor-machine-cpu-ms")
	fmt.Printf("floor: one SSH connection to each of the %d hosts and nothing else (connect, key exchange, host key check, authentication, close; all at once, as plan dials them): wall %.0f ms (%.2fx of the 1-cluster plan), machine busy %.0f ms (%.1f ms per host, nearly all the hosts' sshd)\n",
		3*clusters, ms(fw), float64(fw)/float64(base.wall), ms(fm), ms(fm)/float64(3*clusters))
	fmt.Println("goals: 20 clusters within 4x the wall time of one, CPU at most 5 ms per member")
}

// sshFloor returns the median wall time and machine busy time of runs
// rounds (after one to warm up) of one SSH connection to every host of
// labs, all at once: dial, handshake, host key check, authentication and
// close, through providers/ssh as plan connects. No plan that reads these
// hosts over SSH can take less on this machine.
func sshFloor(b *testing.B, labs []*lab.State, runs int) (wall, machine time.Duration) {
	b.Helper()
	var walls, busies []int64
	for r := 0; r <= runs; r++ {
		busy0, t0 := machineBusy(b), time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		for _, st := range labs {
			for _, h := range st.Hosts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := dialHost(st, h)
					if err == nil {
						err = c.Close()
					}
					if err != nil {
						mu.Lock()
						first = cmp.Or(first, err)
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		w, busy := time.Since(t0), machineBusy(b)-busy0
		if first != nil {
			b.Fatalf("ssh floor: %v", first)
		}
		if r > 0 {
			walls, busies = append(walls, int64(w)), append(busies, int64(busy))
		}
	}
	return time.Duration(median(walls)), time.Duration(median(busies))
}

// dialHost opens an SSH connection to lab host h as plan does: the lab's
// key and known_hosts.
func dialHost(st *lab.State, h lab.Host) (*sshp.Client, error) {
	return sshp.Dial(context.Background(), sshp.Config{Host: h.Addr, Port: lab.SSHPort, User: "root",
		PrivateKeyFile: st.KeyFile(), KnownHostsFile: st.KnownHostsFile()})
}
