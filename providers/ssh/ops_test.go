package ssh_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

func TestPreflight(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	etcd := filepath.Join(dir, "etcd")
	if err := os.WriteFile(etcd, []byte("#!/bin/sh\necho 'etcd Version: 3.6.16'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	aside := t.TempDir()
	if err := os.Mkdir(filepath.Join(aside, "member.removed-20261202T061000Z"), 0o700); err != nil {
		t.Fatal(err)
	}
	used := t.TempDir()
	if err := os.Mkdir(filepath.Join(used, "member"), 0o700); err != nil {
		t.Fatal(err)
	}
	ok := sshp.Preflight{Binary: etcd, Version: "3.6.16", DataDir: filepath.Join(dir, "data"), Ignore: []string{"member.removed-"}}
	for name, tc := range map[string]struct {
		mutate  func(p *sshp.Preflight)
		wantErr string
	}{
		"fresh host":                    {mutate: func(p *sshp.Preflight) {}},
		"only moved-aside data":         {mutate: func(p *sshp.Preflight) { p.DataDir = aside }},
		"any version":                   {mutate: func(p *sshp.Preflight) { p.Version = "" }},
		"no binary":                     {mutate: func(p *sshp.Preflight) { p.Binary = filepath.Join(dir, "absent") }, wantErr: "no etcd binary at"},
		"another version":               {mutate: func(p *sshp.Preflight) { p.Version = "3.5.0" }, wantErr: "is etcd 3.6.16, the configuration wants 3.5.0"},
		"data dir in use":               {mutate: func(p *sshp.Preflight) { p.DataDir = used }, wantErr: "is not empty"},
		"moved-aside data, not ignored": {mutate: func(p *sshp.Preflight) { p.DataDir, p.Ignore = aside, nil }, wantErr: "is not empty"},
	} {
		t.Run(name, func(t *testing.T) {
			p := ok
			tc.mutate(&p)
			err := c.Preflight(ctxFor(t), p)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestMoveAside(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dd, "member", "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	from, aside := filepath.Join(dd, "member"), filepath.Join(dd, "member.removed-1")
	if err := c.MoveAside(ctxFor(t), from, aside); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"member.removed-1"}, entries(t, dd)); diff != "" {
		t.Fatalf("data dir (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(aside, "wal")); err != nil {
		t.Fatalf("the moved-aside member/ lost its content: %v", err)
	}
	// Nothing to move is no error; an existing target refuses and keeps both.
	if err := c.MoveAside(ctxFor(t), from, aside); err != nil {
		t.Fatalf("nothing to move: %v", err)
	}
	if err := os.Mkdir(from, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.MoveAside(ctxFor(t), from, aside); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("existing target: err %v", err)
	}
	if diff := cmp.Diff([]string{"member", "member.removed-1"}, entries(t, dd)); diff != "" {
		t.Fatalf("data dir after a refused move (-want +got):\n%s", diff)
	}
}

func TestInstallFiles(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	for name, tc := range map[string]struct {
		files []sshp.File
		want  []string // entries of the directory after
	}{
		"one file, previous kept": {
			files: []sshp.File{{Path: "etcd.conf.yml", Data: []byte("new"), Mode: 0o644}},
			want:  []string{"etcd.conf.yml", "etcd.conf.yml.bak", "key.pem"},
		},
		"a pair, swapped together, previous kept": {
			files: []sshp.File{{Path: "key.pem", Data: []byte("new key"), Mode: 0o600}, {Path: "cert.pem", Data: []byte("new cert"), Mode: 0o644}},
			want:  []string{"cert.pem", "etcd.conf.yml", "key.pem", "key.pem.bak"},
		},
		"a secret, no copy kept": {
			files: []sshp.File{{Path: "key.pem", Data: []byte("new key"), Mode: 0o600, DropPrevious: true}},
			want:  []string{"etcd.conf.yml", "key.pem"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "etc")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeLocal(t, filepath.Join(dir, "etcd.conf.yml"), &localFile{Content: "old", Mode: 0o644})
			writeLocal(t, filepath.Join(dir, "key.pem"), &localFile{Content: "old key", Mode: 0o600})
			files := append([]sshp.File(nil), tc.files...)
			for i := range files {
				files[i].Path = filepath.Join(dir, files[i].Path)
			}
			if err := c.InstallFiles(ctxFor(t), files); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, entries(t, dir)); diff != "" {
				t.Errorf("directory (-want +got):\n%s", diff)
			}
			for _, f := range files {
				got := readLocal(t, f.Path)
				if got == nil || got.Content != string(f.Data) || got.Mode != f.Mode {
					t.Errorf("%s is %+v, want %q mode %v", f.Path, got, f.Data, f.Mode)
				}
			}
		})
	}
	// Directories are created.
	p := filepath.Join(t.TempDir(), "pki", "sub", "ca.pem")
	if err := c.InstallFiles(ctxFor(t), []sshp.File{{Path: p, Data: []byte("ca"), Mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	if got := readLocal(t, p); got == nil || got.Content != "ca" {
		t.Errorf("%s is %+v", p, got)
	}
}

// A cron job (no systemd unit): its files are written with their
// directories, the log's made, and what it replaces removed.
func TestInstallJob(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	root := t.TempDir()
	cron, old, logs := filepath.Join(root, "cron.d", "etcdform-backup-lab"), filepath.Join(root, "old"), filepath.Join(root, "log", "etcdform")
	writeLocal(t, old, &localFile{Content: "old job", Mode: 0o644})
	err := c.InstallJob(ctxFor(t), sshp.Job{
		Files: []sshp.File{{Path: cron, Data: []byte("@daily root true\n"), Mode: 0o644}},
		Dirs:  []string{logs}, Remove: []string{old},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readLocal(t, cron); got == nil || got.Content != "@daily root true\n" {
		t.Errorf("job file %+v", got)
	}
	if readLocal(t, old) != nil {
		t.Error("the replaced job's file is still there")
	}
	if fi, err := os.Stat(logs); err != nil || !fi.IsDir() {
		t.Errorf("log directory: %v", err)
	}
}

func TestRunJob(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	log := filepath.Join(t.TempDir(), "backup.log")
	writeLocal(t, log, &localFile{Content: "line 1\nupload refused: access denied\n", Mode: 0o644})
	if err := c.RunJob(ctxFor(t), sshp.JobRun{Command: "true", Log: log}); err != nil {
		t.Fatal(err)
	}
	err := c.RunJob(ctxFor(t), sshp.JobRun{Command: "echo boom; exit 1", Log: log})
	for _, want := range []string{"boom", "failed its first run", "upload refused: access denied"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want it to say %q", err, want)
		}
	}
}

// Issue 17 bench: StageFiles checks the staged copies and returns their
// stamps; SwapStaged hashes a copy again only when its stamp changed since
// (a write, a file renamed in its place), and always without a stamp.
func TestStageAndSwap(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	const wrongSHA = "0000000000000000000000000000000000000000000000000000000000000000"
	for name, tc := range map[string]struct {
		mutate  func(t *testing.T, staged []sshp.Staged) // between staging and the swap
		wantErr string
	}{
		"unchanged since it was checked": {mutate: func(*testing.T, []sshp.Staged) {}},
		// The apply layer pairs a stamp only with the sha256 it was checked
		// against: here a wrong one shows the copy is not hashed again.
		"unchanged, not hashed again": {mutate: func(t *testing.T, s []sshp.Staged) { s[0].SHA256 = wrongSHA }},
		"rewritten since": {
			mutate: func(t *testing.T, s []sshp.Staged) {
				if err := os.WriteFile(s[0].Path+".etcdform-new", []byte("another etcd binary"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "does not hold what was sent",
		},
		"replaced since": {
			mutate: func(t *testing.T, s []sshp.Staged) {
				p := s[0].Path + ".etcdform-new"
				if err := os.WriteFile(p+".tmp", []byte("new etcd"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(p+".tmp", p); err != nil {
					t.Fatal(err)
				}
				s[0].SHA256 = wrongSHA
			},
			wantErr: "does not hold what was sent",
		},
		"no stamp: hashed": {
			mutate:  func(t *testing.T, s []sshp.Staged) { s[0].Stamp, s[0].SHA256 = "", wrongSHA },
			wantErr: "does not hold what was sent",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeLocal(t, filepath.Join(dir, "etcd"), &localFile{Content: "old etcd", Mode: 0o755})
			files := []sshp.File{{Path: filepath.Join(dir, "etcd"), Data: []byte("new etcd"), Mode: 0o755},
				{Path: filepath.Join(dir, "etcdutl"), Data: []byte("new etcdutl"), Mode: 0o755}}
			staged, err := c.StageFiles(ctxFor(t), files)
			if err != nil {
				t.Fatal(err)
			}
			if len(staged) != 2 || staged[0].Stamp == "" || staged[1].Stamp == "" || staged[0].Path != files[0].Path {
				t.Fatalf("staged %+v, want both files with their stamps", staged)
			}
			if got := readLocal(t, files[0].Path); got.Content != "old etcd" {
				t.Fatalf("staging changed the target: %+v", got)
			}
			tc.mutate(t, staged)
			err = c.SwapStaged(ctxFor(t), staged)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("swap: err %v, want %q", err, tc.wantErr)
			}
			want, wantDir := "new etcd", []string{"etcd", "etcd.bak", "etcdutl"}
			if tc.wantErr != "" {
				want, wantDir = "old etcd", []string{"etcd", "etcd.etcdform-new", "etcdutl.etcdform-new"}
			}
			if got := readLocal(t, files[0].Path); got.Content != want {
				t.Errorf("etcd holds %q, want %q", got.Content, want)
			}
			if diff := cmp.Diff(wantDir, entries(t, dir)); diff != "" {
				t.Errorf("directory (-want +got):\n%s", diff)
			}
		})
	}
}
