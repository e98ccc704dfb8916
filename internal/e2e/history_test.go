package e2e

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/history"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// historyOptions is the load every e2e apply records: 6 clients, 4 keys,
// about 200 operations/s in all, half puts, half linearizable gets.
var historyOptions = history.Options{}

// recordHistory starts the history recorder (internal/history) on every
// client endpoint of the lab, spare hosts included (scale-out targets),
// with the lab's client TLS: each client balances over all endpoints, as
// a Kubernetes API server does. The test calls Verify after its apply.
func recordHistory(t *testing.T, st *lab.State) *history.Recorder {
	t.Helper()
	tlsCfg, err := st.ClientTLS() // nil for a plain lab
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, h := range st.Hosts {
		eps = append(eps, h.ClientURL())
	}
	return recordHistoryOn(t, eps, tlsCfg)
}

// recordHistoryOn is recordHistory with given endpoints and TLS config.
func recordHistoryOn(t *testing.T, eps []string, tlsCfg *tls.Config) *history.Recorder {
	t.Helper()
	dial := func(i int) (*clientv3.Client, error) {
		// Rotate the list so the clients' first connections differ.
		rot := append(append([]string(nil), eps[i%len(eps):]...), eps[:i%len(eps)]...)
		return clientv3.New(clientv3.Config{Endpoints: rot, DialTimeout: 3 * time.Second, TLS: tlsCfg, Logger: zap.NewNop()})
	}
	r := history.Record(t, dial, historyOptions)
	waitHistory(t, r, 100)
	return r
}

// waitHistory waits until r has made n more operations, a quarter of
// them acknowledged puts, than at the call.
func waitHistory(t *testing.T, r *history.Recorder, n int) {
	t.Helper()
	ops0, acked0 := r.Progress()
	labtest.Eventually(t, 30*time.Second, func() error {
		ops, acked := r.Progress()
		if ops-ops0 < n || acked-acked0 < n/4 {
			return fmt.Errorf("history recorder: %d operations, %d acknowledged puts since the wait began; want %d and %d", ops-ops0, acked-acked0, n, n/4)
		}
		return nil
	})
}
