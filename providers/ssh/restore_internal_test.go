package ssh

import "testing"

// TestRestoreRefusesBadValues: what reaches etcdutl's command line is
// checked first.
func TestRestoreRefusesBadValues(t *testing.T) {
	good := Restore{Etcdutl: "/usr/local/bin/etcdutl", From: "/var/lib/etcd/member.removed-x/snap/db", DataDir: "/var/lib/etcd",
		Name: "etcd-3", PeerURL: "http://10.0.0.3:2380", Token: "lab-after-c1", BumpRevision: 1_000_000_000}
	if err := good.check(); err != nil {
		t.Fatalf("a good restore refused: %v", err)
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
