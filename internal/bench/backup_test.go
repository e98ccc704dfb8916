package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/providers/backupstore/s3test"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
)

// BenchmarkBackup100MB times `etcdform backup run` (snapshot, trailer
// check, inspection, age encryption, upload to a real S3 server, retention)
// and `etcdform backup verify` (fetch, decrypt, etcdutl restore, start a
// throwaway member, compare) on a 100 MB database, beside baselines from
// the same run: streaming the bare snapshot to a local file, and a bare
// `etcdutl snapshot restore` of it.
func BenchmarkBackup100MB(b *testing.B) {
	c := etcdtest.NewCluster(b, 1)
	ep := c.Endpoints()[0]
	srv := s3test.New(b, "backups")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bins, err := etcdbin.Ensure(ctx, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	fill(b, ctx, ep, 100<<20)

	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	idFile := filepath.Join(dir, "id.agekey")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	dest := []string{"--destination", "s3://backups/bench", "--s3-endpoint", srv.Endpoint, "--s3-path-style", "--s3-region", "us-east-1"}
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
	timed := func(what string, args ...string) time.Duration {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(env, "PATH="+filepath.Dir(bins.Etcd)+":"+os.Getenv("PATH"))
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(t0)
		if err != nil {
			b.Fatalf("%s: %v\n%s", what, err, out)
		}
		return d
	}

	const runs = 3
	var runT, snapT, verifyT, restoreT []time.Duration
	var size int64
	ec, err := etcdp.New([]string{ep})
	if err != nil {
		b.Fatal(err)
	}
	defer ec.Close()
	for i := 0; i < runs; i++ {
		runT = append(runT, timed("backup run", append([]string{"backup", "run", "--cluster", "bench", "--endpoint", ep,
			"--recipient", id.Recipient().String(), "--keep-last", "2", "--work-dir", dir}, dest...)...))
		verifyT = append(verifyT, timed("backup verify", append([]string{"backup", "verify", "--latest", "--identity", idFile,
			"--work-dir", dir}, dest...)...))

		// Baselines: the bare snapshot stream, and a bare restore of it.
		snap := filepath.Join(dir, "plain.db")
		f, err := os.Create(snap)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		info, err := ec.Snapshot(ctx, ep, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		snapT = append(snapT, time.Since(t0))
		size = info.Size
		t0 = time.Now()
		out, err := exec.Command(bins.Etcdutl, "snapshot", "restore", snap, "--data-dir", filepath.Join(dir, fmt.Sprintf("restored-%d", i))).CombinedOutput()
		if err != nil {
			b.Fatalf("etcdutl restore: %v\n%s", err, out)
		}
		restoreT = append(restoreT, time.Since(t0))
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("restored-%d", i)))
		os.Remove(snap)
	}
	rm, sm, vm, bm := median(runT), median(snapT), median(verifyT), median(restoreT)
	mb := float64(size) / (1 << 20)
	b.ReportMetric(mb, "db-MiB")
	b.ReportMetric(ms(rm), "backup-run-ms")
	b.ReportMetric(ms(sm), "bare-snapshot-ms")
	b.ReportMetric(ms(vm), "restore-drill-ms")
	b.ReportMetric(ms(bm), "bare-restore-ms")
	fmt.Printf("backup run on a %.0f MiB database (snapshot, check, inspect, age, S3 upload, retention): median %.0f ms over %d runs (%.0f MiB/s); bare snapshot stream to a local file: %.0f ms\n",
		mb, ms(rm), runs, mb/rm.Seconds(), ms(sm))
	fmt.Printf("restore drill (fetch, decrypt, etcdutl restore, start, compare): median %.0f ms; bare etcdutl snapshot restore: %.0f ms\n",
		ms(vm), ms(bm))
}

// fill writes incompressible values until the member's database holds
// about size bytes.
func fill(b *testing.B, ctx context.Context, ep string, size int64) {
	b.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	const valueSize = 256 << 10
	n := int(size / valueSize)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := make([]byte, valueSize)
			for i := w; i < n; i += 8 {
				rand.Read(v)
				if _, err := cli.Put(ctx, fmt.Sprintf("/bench/%06d", i), string(v)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	st, err := cli.Status(ctx, ep)
	if err != nil {
		b.Fatal(err)
	}
	if st.DbSize < size*9/10 {
		b.Fatalf("database holds %d bytes, want about %d", st.DbSize, size)
	}
}
