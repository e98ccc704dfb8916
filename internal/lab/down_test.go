package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// validState is the state.json lab up would write for a one-host lab in
// dir (no kernel object exists for it).
func validState(t *testing.T, dir string) State {
	t.Helper()
	prefix, err := Prefix(dir)
	if err != nil {
		t.Fatal(err)
	}
	return State{
		Dir: dir, Prefix: prefix, Subnet: "10.213.99.0/24", Bridge: prefix + "br", BridgeAddr: "10.213.99.1",
		Hosts: []Host{{Name: "etcd-1", Member: true, Netns: prefix + "-1", Veth: prefix + "v1", Addr: "10.213.99.11",
			Root: filepath.Join(dir, "hosts", "etcd-1")}},
	}
}

func writeState(t *testing.T, s State) {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "state.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// victim is a directory outside the lab holding what a lab down must not
// reach; check reports anything removed from it.
func victim(t *testing.T) (dir string, check func()) {
	t.Helper()
	dir = t.TempDir()
	files := []string{"lab.hcl", "known_hosts", "hosts/etcd-1/var-lib-etcd/member/db", "keep.txt"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("victim"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func() {
		t.Helper()
		for _, f := range files {
			if data, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(data) != "victim" {
				t.Errorf("lab down reached outside its directory: %s: %q, %v", f, data, err)
			}
		}
	}
}

// TestDownRefusesForeignState: a state.json that names anything not
// derived from its own directory (a copy of another lab's, or a crafted
// one) makes lab down refuse, touching nothing (issue 13 #5).
func TestDownRefusesForeignState(t *testing.T) {
	// A link named like another lab's veth, when this machine lets us make
	// one: lab down must leave it.
	otherVeth := "ef0deadv1"
	if os.Geteuid() == 0 {
		if out, err := exec.Command("ip", "link", "add", otherVeth, "type", "veth", "peer", "name", otherVeth+"p").CombinedOutput(); err != nil {
			t.Fatalf("ip link add: %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", otherVeth).Run() })
	}
	tests := map[string]struct {
		edit func(s *State, victim string)
		want string
	}{
		"a copy: dir is the original's": {
			edit: func(s *State, victim string) { *s = validState(t, victim) },
			want: "is this a copy",
		},
		"host root outside the dir": {
			edit: func(s *State, victim string) { s.Hosts[0].Root = filepath.Join(victim, "hosts", "etcd-1") },
			want: "has its directory at",
		},
		"host name with a path": {
			edit: func(s *State, victim string) {
				s.Hosts[0].Name = "../../" + filepath.Base(victim)
				s.Hosts[0].Root = filepath.Join(s.Dir, "hosts", s.Hosts[0].Name)
			},
			want: "lab hosts are named",
		},
		"another lab's veth": {
			edit: func(s *State, _ string) { s.Hosts[0].Veth = otherVeth },
			want: "veth",
		},
		"another lab's prefix": {
			edit: func(s *State, _ string) { s.Prefix, s.Bridge = "ef0dead", "ef0deadbr" },
			want: "prefix",
		},
		"address outside the subnet": {
			edit: func(s *State, _ string) { s.Hosts[0].Addr = "192.0.2.1" },
			want: "outside the lab's subnet",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			victimDir, check := victim(t)
			dir := t.TempDir()
			s := validState(t, dir)
			tt.edit(&s, victimDir)
			data, _ := json.Marshal(s)
			if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			err := Down(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Down = %v, want an error containing %q", err, tt.want)
			}
			check()
			if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
				t.Errorf("the refused lab down removed its own state.json: %v", err)
			}
			if os.Geteuid() == 0 && !linkExists(otherVeth) {
				t.Errorf("lab down removed %s", otherVeth)
			}
		})
	}
}

// TestDownRemovesOnlyItsFiles: lab down removes the files lab up writes,
// by name, inside its directory: a symbolic link in their place is left
// (its target untouched), and so is any other file.
func TestDownRemovesOnlyItsFiles(t *testing.T) {
	victimDir, check := victim(t)
	dir := t.TempDir()
	writeState(t, validState(t, dir))
	for _, f := range []string{"lab.hcl", "id_ed25519", "hosts/etcd-1/init.log", "notes.txt"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(victimDir, filepath.Join(dir, PKIDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(victimDir, "known_hosts"), filepath.Join(dir, "known_hosts")); err != nil {
		t.Fatal(err)
	}
	if err := Down(context.Background(), dir); err != nil {
		t.Fatalf("Down: %v", err)
	}
	check()
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if got, want := strings.Join(left, " "), fmt.Sprintf("known_hosts notes.txt %s", PKIDir); got != want {
		t.Errorf("left in the lab dir: %q, want %q", got, want)
	}
}

// TestUpKeepsUserFiles: lab up refuses a directory that already holds a
// file it would write (a user's known_hosts), leaving the file as it was,
// so lab down never deletes a file lab up did not make (issue 13 #5).
func TestUpKeepsUserFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: runs lab up") // labtest.SkipShort, which this package cannot import
	}
	if err := Preflight(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Up(context.Background(), Options{Dir: dir, Members: 1}, nil)
	if st != nil {
		t.Cleanup(func() { _ = Down(context.Background(), dir) })
	}
	if err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Fatalf("Up = %v, want a refusal naming known_hosts", err)
	}
	if data, err := os.ReadFile(known); err != nil || string(data) != "mine\n" {
		t.Errorf("known_hosts after lab up: %q, %v", data, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("lab up left files beside known_hosts: %v", ents)
	}
}
