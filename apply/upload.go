package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/etcdform/etcdform/plan"
)

// ErrSourceChanged is returned when an upload's local source no longer has
// the hash it had when the plan was made.
var ErrSourceChanged = errors.New("apply: a TLS source file changed since the plan was made; run plan again")

// upload writes one TLS file to the member's host from its local source.
// The source is read now, checked against the hash the plan recorded (so
// what is uploaded is what was reviewed), and written atomically with the
// planned mode (0600 for keys). Its bytes live only in this call.
func (x *executor) upload(ctx context.Context, s plan.Step) error {
	u := s.Upload
	if u == nil {
		return fmt.Errorf("upload step for %s has no file", s.Member)
	}
	data, err := os.ReadFile(u.Source)
	if err != nil {
		return fmt.Errorf("reading the source of %s: %w", u.Path, err)
	}
	defer clear(data)
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != u.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %.12s.., the plan recorded %.12s..", ErrSourceChanged, u.Source, got, u.SHA256)
	}
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	x.ev("uploading " + u.Path)
	if _, err := h.Run(ctx, "mkdir -p -- "+shellQuote(path.Dir(u.Path))); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", u.Path, err)
	}
	mode := u.Mode
	if mode == 0 {
		mode = 0o644
		if u.IsKey() {
			mode = 0o600
		}
	}
	return h.WriteFile(ctx, u.Path, data, mode)
}
