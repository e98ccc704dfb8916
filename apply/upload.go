package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/etcdform/etcdform/plan"
)

// ErrSourceChanged is returned when an upload's local source no longer has
// the hash it had when the plan was made.
var ErrSourceChanged = errors.New("apply: a TLS source file changed since the plan was made; run plan again")

// stagedSuffix names the staged copy of an uploaded file next to it.
const stagedSuffix = ".etcdform-new"

// upload writes a step's TLS files to the member's host from their local
// sources. Every source is read now and checked against the hash the plan
// recorded, so what is uploaded is what was reviewed; a changed source
// stops the step before anything is written. A single file is written
// atomically. Several (a key and its certificate) are staged next to their
// targets with the planned modes, then swapped in by one shell command, so
// etcd, which loads both at every handshake, sees a mismatched pair for
// microseconds rather than for a whole SSH round trip. The replaced files
// are kept as PATH.bak. Key bytes live only in this call.
func (x *executor) upload(ctx context.Context, s plan.Step) error {
	if len(s.Uploads) == 0 {
		return fmt.Errorf("upload step for %s has no file", s.Member)
	}
	data := make([][]byte, len(s.Uploads))
	defer func() {
		for _, d := range data {
			clear(d)
		}
	}()
	for i, u := range s.Uploads {
		d, err := os.ReadFile(u.Source)
		if err != nil {
			return fmt.Errorf("reading the source of %s: %w", u.Path, err)
		}
		data[i] = d
		sum := sha256.Sum256(d)
		if got := hex.EncodeToString(sum[:]); got != u.SHA256 {
			return fmt.Errorf("%w: %s has sha256 %.12s.., the plan recorded %.12s..", ErrSourceChanged, u.Source, got, u.SHA256)
		}
	}
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	var paths []string
	for _, u := range s.Uploads {
		paths = append(paths, u.Path)
	}
	if err := mkdirsFor(ctx, h, paths); err != nil {
		return err
	}
	if len(s.Uploads) == 1 {
		u := s.Uploads[0]
		x.ev("uploading " + u.Path)
		return h.WriteFile(ctx, u.Path, data[0], uploadMode(u))
	}
	var swap []string
	for i, u := range s.Uploads {
		x.ev("staging " + u.Path)
		staged := u.Path + stagedSuffix
		if err := h.WriteFile(ctx, staged, data[i], uploadMode(u)); err != nil {
			return fmt.Errorf("staging %s: %w", u.Path, err)
		}
		p, q := shellQuote(u.Path), shellQuote(staged)
		// Keep the replaced file's owner and a backup, as WriteFile does.
		swap = append(swap, fmt.Sprintf("if [ -e %s ]; then chown --reference=%s %s && ln -f %s %s.bak; fi", p, p, q, p, p))
	}
	for _, u := range s.Uploads {
		swap = append(swap, fmt.Sprintf("mv -f -- %s %s", shellQuote(u.Path+stagedSuffix), shellQuote(u.Path)))
	}
	x.ev("swapping in " + fmt.Sprint(len(s.Uploads)) + " files")
	if _, err := h.Run(ctx, "set -e; "+strings.Join(swap, "; ")); err != nil {
		return fmt.Errorf("swapping in the uploaded files: %w", err)
	}
	return nil
}

// mkdirsFor creates the directories of paths on h, in one command.
func mkdirsFor(ctx context.Context, h Host, paths []string) error {
	dirs := map[string]bool{}
	var mkdir []string
	for _, p := range paths {
		if d := path.Dir(p); !dirs[d] {
			dirs[d] = true
			mkdir = append(mkdir, shellQuote(d))
		}
	}
	if _, err := h.Run(ctx, "mkdir -p -- "+strings.Join(mkdir, " ")); err != nil {
		return fmt.Errorf("creating %s: %w", strings.Join(mkdir, " "), err)
	}
	return nil
}

func uploadMode(u plan.Upload) uint32 {
	switch {
	case u.Mode != 0:
		return u.Mode
	case u.IsKey():
		return 0o600
	}
	return 0o644
}
