package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/etcdform/etcdform/plan/model"
)

// ErrLockNoLease is an in-cluster apply lock the cluster cannot grant: it
// takes no writes (NOSPACE) and so grants no lease.
var ErrLockNoLease = errors.New("the cluster grants no lease")

// ErrLockNoQuorum: the cluster lost its quorum (a recovery plan), so it
// grants no lease; apply takes the host locks instead.
var ErrLockNoQuorum = errors.New("the cluster has no quorum")

// hostLocks stands in for the in-cluster lock while the cluster grants no
// lease (issue 15): the apply lock file of the hosts of a majority of the
// voting members, each held by its own SSH session. Two applies cannot
// both hold a majority. It is a Lock; once the cluster takes writes again
// the in-cluster lock is added (inCluster) and both are held to the end.
type hostLocks struct {
	hosts     []string
	locks     []Lock
	inCluster Lock
}

func (h *hostLocks) Check(ctx context.Context) error {
	for i, l := range h.locks {
		if err := l.Check(ctx); err != nil {
			return fmt.Errorf("host lock on %s: %w", h.hosts[i], err)
		}
	}
	if h.inCluster != nil {
		return h.inCluster.Check(ctx)
	}
	return nil
}

func (h *hostLocks) Unlock(ctx context.Context) error {
	var errs []error
	if h.inCluster != nil {
		errs = append(errs, h.inCluster.Unlock(ctx))
	}
	for _, l := range h.locks {
		errs = append(errs, l.Unlock(ctx))
	}
	return errors.Join(errs...)
}

// lockHosts takes the host apply locks of the cluster's voting members
// that the steps idx name, and succeeds when it holds those of a majority
// of the voting members. With live (a cluster that answers reads: under
// NOSPACE) the voters are those of the live member list, read now: the
// stale-plan check comes after the lock, and a majority of an older list
// could miss the hosts another apply of a newer plan holds. Otherwise (no
// quorum, no cluster yet) they are the ones the plan observed. It does not
// wait: a host locked by another apply counts against the majority and is
// named in the error. It takes at most --lock-timeout, like the lease
// attempt: a host that takes the connection and then stops answering must
// not hold the apply (a lock taken outlives this bound).
func (x *executor) lockHosts(ctx context.Context, p *model.Plan, idx []int, live bool) (*hostLocks, error) {
	ctx, cancel := context.WithTimeout(ctx, x.opts.LockTimeout)
	defer cancel()
	voters := map[string]bool{}
	var ids map[uint64]string // by ID, for the live list
	nvoters := 0
	if live {
		ms, err := x.etcd.Members(ctx)
		if err != nil {
			return nil, fmt.Errorf("the live member list, whose majority the host locks that stand in for it need, could not be read: %w", err)
		}
		ids = map[uint64]string{}
		for _, m := range ms {
			if m.IsLearner {
				continue
			}
			nvoters++
			if m.Name != "" {
				voters[m.Name] = true
				ids[m.ID] = m.Name
			}
		}
	} else {
		for _, cf := range p.Fingerprint.Clusters {
			if cf.Name == x.c.Name {
				for _, m := range cf.Members {
					if !m.IsLearner && m.Name != "" {
						voters[m.Name] = true
					}
				}
			}
		}
		nvoters = len(voters)
	}
	need := nvoters/2 + 1
	owner := lockOwner(x.c.Name, x.opts.Now())
	held := &hostLocks{}
	var problems []string
	seen := map[string]bool{}
	var steps []model.Step
	for _, i := range idx {
		s := p.Steps[i]
		if ids != nil && s.MemberID != 0 && ids[s.MemberID] != s.Member {
			continue // another member now under that name or ID
		}
		if !voters[s.Member] || seen[s.Member] || s.Target == nil {
			continue
		}
		seen[s.Member] = true
		steps = append(steps, s)
	}
	// Every host at once: each lock is its own SSH session (on the apply's
	// connection to the host), and the apply waits for the slowest rather
	// than the sum.
	type taken struct {
		h    Host
		lock Lock
		err  error
	}
	got := make([]taken, len(steps))
	var wg sync.WaitGroup
	for n, s := range steps {
		if h, ok := x.hosts[s.Member]; ok {
			got[n].h = h
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &got[n]
			if t.h == nil {
				if t.h, t.err = x.dial(ctx, s); t.err != nil {
					return
				}
			}
			t.lock, t.err = t.h.Lock(ctx, owner)
		}()
	}
	wg.Wait()
	heldByOther := false
	for n, s := range steps {
		t := got[n]
		if t.h != nil {
			x.hosts[s.Member] = t.h
		}
		if t.err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", s.Member, t.err))
			heldByOther = heldByOther || errors.Is(t.err, ErrLockHeld)
			continue
		}
		held.hosts = append(held.hosts, s.Member)
		held.locks = append(held.locks, t.lock)
	}
	if len(held.locks) >= need {
		return held, nil
	}
	unlockDetached(ctx, held)
	if len(seen) < need {
		of := "voting members"
		if live {
			of += " of the live member list"
		}
		problems = append(problems, fmt.Sprintf("the plan's steps name the hosts of only %d of the %d %s", len(seen), nvoters, of))
	}
	return nil, &hostLockError{held: heldByOther, msg: fmt.Sprintf("the host locks that stand in for it need a majority, %d of %d voting members' hosts, and %d were taken:\n  - %s",
		need, nvoters, len(held.locks), strings.Join(problems, "\n  - "))}
}

// hostLockError is lockHosts' failure; it is ErrLockHeld when another
// apply held a host lock it needed.
type hostLockError struct {
	msg  string
	held bool
}

func (e *hostLockError) Error() string { return e.msg }

func (e *hostLockError) Is(target error) bool { return e.held && target == ErrLockHeld }

// unlockDetached releases l within 10 s, also when ctx has ended: an
// interrupted or failed apply still lets go of its locks.
func unlockDetached(ctx context.Context, l Lock) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = l.Unlock(uctx)
}

// lockOwner names this apply in a host lock file.
func lockOwner(cluster string, now time.Time) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("etcdform apply of cluster %s, pid %d on %s, since %s", cluster, os.Getpid(), host, now.UTC().Format(time.RFC3339))
}
