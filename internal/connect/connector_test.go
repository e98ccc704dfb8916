package connect

import (
	"errors"
	"fmt"
	"testing"

	"github.com/etcdform/etcdform/apply"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
)

// TestLearnerSilentTranslated: etcd's ErrLearnerSilent reaches apply as
// apply.ErrLearnerSilent, with etcd's message alone.
func TestLearnerSilentTranslated(t *testing.T) {
	inner := fmt.Errorf("%w: member 4, for 1.2s: context deadline exceeded", etcdp.ErrLearnerSilent)
	err := error(learnerSilent{inner})
	if !errors.Is(err, apply.ErrLearnerSilent) || !errors.Is(err, etcdp.ErrLearnerSilent) || err.Error() != inner.Error() {
		t.Errorf("%v: Is apply.ErrLearnerSilent %v, Is etcd's %v", err, errors.Is(err, apply.ErrLearnerSilent), errors.Is(err, etcdp.ErrLearnerSilent))
	}
	if errors.Is(etcdp.ErrNotCaughtUp, apply.ErrLearnerSilent) {
		t.Error("another error reads as a silent learner")
	}
}
