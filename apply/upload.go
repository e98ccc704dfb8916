package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/etcdform/etcdform/plan/model"
)

// ErrSourceChanged is returned when an upload's local source no longer has
// the hash it had when the plan was made.
var ErrSourceChanged = errors.New("apply: a TLS source file changed since the plan was made; run plan again")

// upload writes a step's files to the member's host from their local
// sources. Every source is read now and checked against the hash the plan
// recorded, so what is uploaded is what was reviewed; a changed source
// stops the step before anything is written. The host installs them
// together (Host.InstallFiles: one file atomically; a key and its
// certificate staged, checked and swapped in at once), keeping a replaced
// file as PATH.bak, but for the backup job's credentials, of which no
// copy is kept. Key bytes live only in this call.
func (x *executor) upload(ctx context.Context, s model.Step) error {
	files, err := readUploads(s)
	defer func() {
		for _, f := range files {
			clear(f.Data)
		}
	}()
	if err != nil {
		return err
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	if len(files) == 1 {
		x.ev("uploading " + files[0].Path)
	} else {
		x.ev(fmt.Sprintf("uploading %d files", len(files)))
	}
	if err := h.InstallFiles(ctx, files); err != nil {
		return fmt.Errorf("uploading to %s: %w", s.Member, err)
	}
	return nil
}

// stageBinary uploads the step's binaries next to their targets and
// checks them there (Host.StageFiles); the member's upgrade-member step
// swaps them in. Like upload, every source is read and checked against
// its planned sha256 before the host is touched.
func (x *executor) stageBinary(ctx context.Context, s model.Step) error {
	files, err := readUploads(s)
	if err != nil {
		return err
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev(fmt.Sprintf("staging %d files", len(files)))
	staged, err := h.StageFiles(ctx, files)
	if err != nil {
		return fmt.Errorf("staging on %s: %w", s.Member, err)
	}
	for _, f := range staged {
		x.stamps.put(s.Member, f)
	}
	return nil
}

// stagedStamps are the stamps (Staged.Stamp) of the copies this apply's
// stage-binary steps staged and checked, by member, path and sha256: a
// swap of the same file by the member's upgrade-member step hashes the
// copy again only when it changed since. Safe for concurrent use.
type stagedStamps struct {
	mu sync.Mutex
	m  map[[3]string]string
}

func (st *stagedStamps) put(member string, f Staged) {
	if f.Stamp == "" {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.m == nil {
		st.m = map[[3]string]string{}
	}
	st.m[[3]string{member, f.Path, f.SHA256}] = f.Stamp
}

// get returns the stamp of the copy of path with sha256 staged on
// member's host; "" when this apply staged none.
func (st *stagedStamps) get(member, path, sha256 string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.m[[3]string{member, path, sha256}]
}

// readUploads reads the sources of a step's uploads and checks each
// against the sha256 the plan recorded; a changed source is
// ErrSourceChanged, before any host is touched.
func readUploads(s model.Step) ([]File, error) {
	if len(s.Uploads) == 0 {
		return nil, fmt.Errorf("%s step for %s has no file", s.Action, s.Member)
	}
	files := make([]File, len(s.Uploads))
	for i, u := range s.Uploads {
		d, err := os.ReadFile(u.Source)
		if err != nil {
			return files, fmt.Errorf("reading the source of %s: %w", u.Path, err)
		}
		files[i] = File{Path: u.Path, Data: d, Mode: uploadMode(u), DropPrevious: u.Role == "backup-credentials"}
		sum := sha256.Sum256(d)
		if got := hex.EncodeToString(sum[:]); got != u.SHA256 {
			return files, fmt.Errorf("%w: %s has sha256 %.12s.., the plan recorded %.12s..", ErrSourceChanged, u.Source, got, u.SHA256)
		}
	}
	return files, nil
}

func uploadMode(u model.Upload) os.FileMode {
	switch {
	case u.Mode != 0:
		return os.FileMode(u.Mode)
	case u.IsKey():
		return 0o600
	}
	return 0o644
}
