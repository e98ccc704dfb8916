package connect

import "testing"

// TestDownPerCluster: each cluster of an apply has its own etcd.Down, so
// that one cluster without a quorum does not make the observations of
// another skip their linearizable reads and alarm lists.
func TestDownPerCluster(t *testing.T) {
	d := NewDown()
	a, b := d.Cluster("a"), d.Cluster("b")
	if a == nil || b == nil || a == b {
		t.Fatalf("clusters a and b share %p, %p", a, b)
	}
	if d.Cluster("a") != a {
		t.Error("cluster a got a second Down")
	}
	var none *Down
	if none.Cluster("a") != nil {
		t.Error("a nil Down gave a cluster one")
	}
}
