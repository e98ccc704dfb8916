package ssh

import (
	"strings"
	"testing"
)

// TestRestoreRefusesBadValues: what reaches etcdutl's command line is
// checked first.
func TestRestoreRefusesBadValues(t *testing.T) {
	good := Restore{Etcdutl: "/usr/local/bin/etcdutl", From: "/var/lib/etcd/member.removed-x/snap/db", DataDir: "/var/lib/etcd",
		Name: "etcd-3", PeerURL: "http://10.0.0.3:2380", Token: "lab-after-c1", BumpRevision: 1_000_000_000}
	if err := good.check(); err != nil {
		t.Fatalf("a good restore refused: %v", err)
	}
	backup := good
	backup.InitialCluster = "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380,etcd-3=http://10.0.0.3:2380"
	backup.Snapshot, backup.SnapshotSHA256 = strings.NewReader("db"), strings.Repeat("a", 64)
	if err := backup.check(); err != nil {
		t.Fatalf("a good restore of a backup refused: %v", err)
	}
	for name, edit := range map[string]func(r *Restore){
		"relative binary":    func(r *Restore) { r.Etcdutl = "etcdutl" },
		"newline in path":    func(r *Restore) { r.From = "/a\n/b" },
		"name like a flag":   func(r *Restore) { r.Name = "--data-dir=/" },
		"comma in the token": func(r *Restore) { r.Token = "a,b" },
		"empty token":        func(r *Restore) { r.Token = "" },
		"peer URL not http":  func(r *Restore) { r.PeerURL = "unix:///x" },
		"two peer URLs":      func(r *Restore) { r.PeerURL = "http://a:2380,http://b:2380" },
		"no bump":            func(r *Restore) { r.BumpRevision = 0 },
		"initial cluster without the member": func(r *Restore) {
			r.InitialCluster = "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380"
		},
		"initial cluster entry like a flag": func(r *Restore) {
			r.InitialCluster = "--x=http://10.0.0.1:2380,etcd-3=http://10.0.0.3:2380"
		},
		"initial cluster entry not http": func(r *Restore) { r.InitialCluster = "etcd-3=http://10.0.0.3:2380,x=unix:///y" },
		"snapshot without its sha256":    func(r *Restore) { r.Snapshot = strings.NewReader("db") },
		"sha256 without a snapshot":      func(r *Restore) { r.SnapshotSHA256 = strings.Repeat("a", 64) },
		"bad sha256": func(r *Restore) {
			r.Snapshot, r.SnapshotSHA256 = strings.NewReader("db"), "abc; rm -rf /"
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := good
			edit(&r)
			if err := r.check(); err == nil {
				t.Errorf("%+v accepted", r)
			}
		})
	}
}
