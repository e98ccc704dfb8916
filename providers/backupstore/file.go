package backupstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileStore keeps backups in a local directory (an NFS mount, say).
type FileStore struct{ dir string }

var _ Store = (*FileStore)(nil)

// NewFileStore returns a store in dir, created on first Put.
func NewFileStore(dir string) *FileStore { return &FileStore{dir: filepath.Clean(dir)} }

func (f *FileStore) String() string { return "file://" + f.dir }

// tmpPrefix marks files being written; Names skips them.
const tmpPrefix = ".tmp-"

// Put writes a hidden temporary file, syncs it and renames it into place,
// so a reader sees the whole object or none.
func (f *FileStore) Put(ctx context.Context, name string, r io.Reader, progress func(int64)) (int64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return 0, fmt.Errorf("backup: %s: %w", f, err)
	}
	tmp, err := os.CreateTemp(f.dir, tmpPrefix+name+".*")
	if err != nil {
		return 0, fmt.Errorf("backup: %s: %w", f, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, &ctxReader{ctx: ctx, r: &countingReader{r: r, progress: progress}})
	if err != nil {
		return n, fmt.Errorf("backup: writing %s/%s: %w", f, name, err)
	}
	if err := tmp.Sync(); err != nil {
		return n, fmt.Errorf("backup: writing %s/%s: %w", f, name, err)
	}
	if err := tmp.Close(); err != nil {
		return n, fmt.Errorf("backup: writing %s/%s: %w", f, name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, name)); err != nil {
		return n, fmt.Errorf("backup: writing %s/%s: %w", f, name, err)
	}
	ok = true
	if d, err := os.Open(f.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

func (f *FileStore) Get(_ context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fh, err := os.Open(filepath.Join(f.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, f, name)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return fh, nil
}

func (f *FileStore) Delete(_ context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(f.dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func (f *FileStore) Names(_ context.Context) ([]string, error) {
	ents, err := os.ReadDir(f.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: listing %s: %w", f, err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), tmpPrefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." || strings.HasPrefix(name, tmpPrefix) {
		return fmt.Errorf("backup: bad object name %q", name)
	}
	return nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
