package ssh_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/providers/ssh/internal/sshtest"
)

// localFile is what a file on the (local) host looks like.
type localFile struct {
	Content  string
	Mode     os.FileMode
	UID, GID uint32
}

func readLocal(t *testing.T, path string) *localFile {
	t.Helper()
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return &localFile{Content: string(b), Mode: fi.Mode(), UID: st.Uid, GID: st.Gid}
}

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	const nobody = 65534 // nobody:nogroup on Debian
	tests := map[string]struct {
		existing *localFile // nil: no file before
		data     string
		opts     sshp.WriteOptions
		want     *localFile
		wantBak  *localFile
	}{
		"new file, default mode": {
			data: "name: etcd-1\n",
			want: &localFile{Content: "name: etcd-1\n", Mode: 0o644},
		},
		"new file, mode and owner given": {
			data: "secret",
			opts: sshp.WriteOptions{Mode: 0o640, Owner: "nobody", Group: "nogroup"},
			want: &localFile{Content: "secret", Mode: 0o640, UID: nobody, GID: nobody},
		},
		"numeric owner": {
			data: "x",
			opts: sshp.WriteOptions{Owner: "65534"},
			want: &localFile{Content: "x", Mode: 0o644, UID: nobody},
		},
		"existing mode and owner kept, backup kept": {
			existing: &localFile{Content: "old\n", Mode: 0o600, UID: nobody, GID: nobody},
			data:     "new\n",
			opts:     sshp.WriteOptions{Backup: true},
			want:     &localFile{Content: "new\n", Mode: 0o600, UID: nobody, GID: nobody},
			wantBak:  &localFile{Content: "old\n", Mode: 0o600, UID: nobody, GID: nobody},
		},
		"existing, no backup asked": {
			existing: &localFile{Content: "old\n", Mode: 0o640, GID: nobody},
			data:     "new\n",
			want:     &localFile{Content: "new\n", Mode: 0o640, GID: nobody},
		},
		"options override the existing file": {
			existing: &localFile{Content: "old\n", Mode: 0o600, UID: nobody, GID: nobody},
			data:     "new\n",
			opts:     sshp.WriteOptions{Mode: 0o644, Owner: "root"},
			want:     &localFile{Content: "new\n", Mode: 0o644, GID: nobody},
		},
		"unchanged content is not backed up": {
			existing: &localFile{Content: "same\n", Mode: 0o644},
			data:     "same\n",
			opts:     sshp.WriteOptions{Backup: true},
			want:     &localFile{Content: "same\n", Mode: 0o644},
		},
		"content exact: binary, quotes, no trailing newline": {
			data: "a'b\"c$(d)`e`\x00\xff\n\n\\end",
			want: &localFile{Content: "a'b\"c$(d)`e`\x00\xff\n\n\\end", Mode: 0o644},
		},
		"empty content": {
			existing: &localFile{Content: "old", Mode: 0o644},
			data:     "",
			want:     &localFile{Content: "", Mode: 0o644},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "etcd.conf.yml")
			if e := tc.existing; e != nil {
				writeLocal(t, path, e)
			}
			if err := c.WriteFileAtomic(ctxFor(t), path, []byte(tc.data), tc.opts); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, readLocal(t, path)); diff != "" {
				t.Errorf("file (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantBak, readLocal(t, path+".bak")); diff != "" {
				t.Errorf("backup (-want +got):\n%s", diff)
			}
			wantEntries := []string{"etcd.conf.yml"}
			if tc.wantBak != nil {
				wantEntries = append(wantEntries, "etcd.conf.yml.bak")
			}
			if diff := cmp.Diff(wantEntries, entries(t, dir)); diff != "" {
				t.Errorf("directory (-want +got), no temp file may be left:\n%s", diff)
			}

			st, err := c.FileInfo(ctxFor(t), path)
			if err != nil {
				t.Fatal(err)
			}
			wantSt := sshp.FileStat{Exists: true, Mode: tc.want.Mode, UID: int(tc.want.UID), GID: int(tc.want.GID), Size: int64(len(tc.want.Content))}
			if diff := cmp.Diff(wantSt, st); diff != "" {
				t.Errorf("FileInfo (-want +got):\n%s", diff)
			}
		})
	}
}

func writeLocal(t *testing.T, path string, f *localFile) {
	t.Helper()
	if err := os.WriteFile(path, []byte(f.Content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, int(f.UID), int(f.GID)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, f.Mode); err != nil {
		t.Fatal(err)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestWriteFileAtomicFailures(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	old := &localFile{Content: "old\n", Mode: 0o640}
	tests := map[string]struct {
		path     func(dir string) string
		opts     sshp.WriteOptions
		contains string
	}{
		"unknown owner": {
			path:     func(dir string) string { return filepath.Join(dir, "f") },
			opts:     sshp.WriteOptions{Owner: "no-such-user-etcdform", Backup: true},
			contains: "no-such-user-etcdform",
		},
		"missing directory": {
			path:     func(dir string) string { return filepath.Join(dir, "nope", "f") },
			contains: "does not exist",
		},
		"path is a directory": {
			path:     func(dir string) string { return dir },
			contains: "is a directory",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeLocal(t, filepath.Join(dir, "f"), old)
			path := tc.path(dir)
			err := c.WriteFileAtomic(ctxFor(t), path, []byte("new\n"), tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range []string{c.Addr(), path, tc.contains} {
				if !bytes.Contains([]byte(err.Error()), []byte(s)) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			// The old file is untouched and nothing is left behind.
			if diff := cmp.Diff(old, readLocal(t, filepath.Join(dir, "f"))); diff != "" {
				t.Errorf("file (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"f"}, entries(t, dir)); diff != "" {
				t.Errorf("directory (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteFileAtomicSymlink(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	target := filepath.Join(dir, "real.yml")
	link := filepath.Join(dir, "etcd.yml")
	writeLocal(t, target, &localFile{Content: "old", Mode: 0o600})
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFileAtomic(ctxFor(t), link, []byte("new"), sshp.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(link); err != nil || got != target {
		t.Errorf("link now %q, %v; want it kept pointing at %s", got, err, target)
	}
	if diff := cmp.Diff(&localFile{Content: "new", Mode: 0o600}, readLocal(t, target)); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
}

func TestFileInfo(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	writeLocal(t, filepath.Join(dir, "f"), &localFile{Content: "12345", Mode: os.ModeSetuid | 0o755, UID: 65534})
	tests := map[string]struct {
		path string
		want sshp.FileStat
	}{
		"file":    {filepath.Join(dir, "f"), sshp.FileStat{Exists: true, Mode: os.ModeSetuid | 0o755, UID: 65534, Size: 5}},
		"missing": {filepath.Join(dir, "missing"), sshp.FileStat{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.FileInfo(ctxFor(t), tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	got, err := c.FileInfo(ctxFor(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode != os.ModeDir|0o750 {
		t.Errorf("directory mode = %v, want %v", got.Mode, os.ModeDir|0o750)
	}
}

func TestDirSize(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	empty := t.TempDir()
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "db"), bytes.Repeat([]byte("x"), 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	hidden := t.TempDir()
	if err := os.WriteFile(filepath.Join(hidden, ".lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dotdot := t.TempDir() // names the globs of ls -A's stand-in must all find
	if err := os.WriteFile(filepath.Join(dotdot, "..x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	star := t.TempDir()
	if err := os.WriteFile(filepath.Join(star, "*"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dangling := t.TempDir()
	if err := os.Symlink("/nonexistent/etcdform", filepath.Join(dangling, "l")); err != nil {
		t.Fatal(err)
	}
	aside := t.TempDir()
	if err := os.Mkdir(filepath.Join(aside, "member.removed-20261202T061000Z"), 0o700); err != nil {
		t.Fatal(err)
	}
	type result struct {
		MinBytes int64
		Empty    bool
	}
	tests := map[string]struct {
		path   string
		ignore []string
		want   result
	}{
		"empty":                       {empty, nil, result{0, true}},
		"full":                        {full, nil, result{10000, false}},
		"only dotfile":                {hidden, nil, result{0, false}},
		"only a ..name":               {dotdot, nil, result{0, false}},
		"only a file named *":         {star, nil, result{0, false}},
		"only a dangling symlink":     {dangling, nil, result{0, false}},
		"a file named *, ignored":     {star, []string{"*"}, result{0, true}},
		"missing":                     {filepath.Join(empty, "nope"), nil, result{0, true}},
		"only an ignored entry":       {aside, []string{"member.removed-"}, result{0, true}},
		"an entry not ignored":        {full, []string{"member.removed-"}, result{10000, false}},
		"ignored entry, not ignoring": {aside, nil, result{0, false}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, isEmpty, err := c.DirSize(ctxFor(t), tc.path, tc.ignore...)
			if err != nil {
				t.Fatal(err)
			}
			if isEmpty != tc.want.Empty || n < tc.want.MinBytes {
				t.Errorf("DirSize = %d, %v; want ≥ %d, %v", n, isEmpty, tc.want.MinBytes, tc.want.Empty)
			}
		})
	}
	if _, _, err := c.DirSize(ctxFor(t), filepath.Join(full, "db")); err == nil {
		t.Error("DirSize of a file: no error")
	}
}

func TestBinaryVersion(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := map[string]struct {
		binary  string
		want    string
		wantErr bool
	}{
		"etcd":            {script("etcd", "echo 'etcd Version: 3.6.16'; echo 'Git SHA: 1a2b3c'; echo 'Go Version: go1.24.4'\n"), "3.6.16", false},
		"absent path":     {filepath.Join(dir, "absent"), "", false},
		"absent name":     {"etcd-absent-etcdform", "", false},
		"fails":           {script("broken", "echo boom >&2; exit 2\n"), "", true},
		"no version line": {script("odd", "echo hello\n"), "", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.BinaryVersion(ctxFor(t), tc.binary)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("BinaryVersion = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWALHead(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dd := t.TempDir()
	wal := filepath.Join(dd, "member", "wal")
	if err := os.MkdirAll(wal, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WALHead(ctxFor(t), dd, 16); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WALHead of an empty wal dir: %v, want ErrNotExist", err)
	}
	if _, err := c.WALHead(ctxFor(t), filepath.Join(dd, "nope"), 16); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WALHead of a missing data dir: %v, want ErrNotExist", err)
	}
	for name, data := range map[string]string{
		"0000000000000002-0000000000000100.wal": "second",
		"0000000000000001-0000000000000000.wal": "first file, longer than asked",
		"0.tmp":                                 "preallocated",
	} {
		if err := os.WriteFile(filepath.Join(wal, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.WALHead(ctxFor(t), dd, 10)
	if err != nil || string(got) != "first file" {
		t.Errorf("WALHead = %q, %v; want the oldest .wal file's first 10 bytes", got, err)
	}
}

// TestReadFiles reads present, missing, empty and awkward files in one
// call; a path that cannot be read (a directory) is an error for it alone.
func TestReadFiles(t *testing.T) {
	t.Parallel()
	c := dial(t, newHost(t, sshtest.Options{}).cfg)
	dir := t.TempDir()
	files := map[string]string{
		"a":     "name: etcd-1\n",
		"empty": "",
		"odd":   "F 3\nM\nE\n\x00no newline at the end",
	}
	for name, content := range files {
		writeLocal(t, filepath.Join(dir, name), &localFile{Content: content, Mode: 0o644})
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	got, errs, err := c.ReadFiles(ctxFor(t), p("missing"), p("a"), p("empty"), p("odd"), p("missing2"))
	if err != nil || len(errs) != 0 {
		t.Fatal(err, errs)
	}
	want := map[string][]byte{p("a"): []byte(files["a"]), p("empty"): nil, p("odd"): []byte(files["odd"])}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got, errs, err = c.ReadFiles(ctxFor(t), p("a"), dir, p("missing"))
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[dir] == nil {
		t.Errorf("errors = %v, want one for the directory %s", errs, dir)
	}
	if diff := cmp.Diff(map[string][]byte{p("a"): []byte(files["a"])}, got); diff != "" {
		t.Errorf("with a directory among them (-want +got):\n%s", diff)
	}
}
