package apply

import (
	"context"
	"fmt"
	"path"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/plan/model"
)

// aside is where a step moves data dir dd's member/ aside: inside dd (one
// file system, a rename), named by the time, never deleted.
func (x *executor) aside(dd string) string {
	return path.Join(dd, AsidePrefix+x.opts.Now().UTC().Format("20060102T150405Z"))
}

// stopMember stops a member of a cluster that lost its quorum, disables
// its service (the add-learner that brings it back enables it) and moves
// its data dir's member/ aside, kept.
func (x *executor) stopMember(ctx context.Context, s model.Step) error {
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev("stopping service")
	if err := h.Stop(ctx); err != nil {
		return fmt.Errorf("stopping %s: %w", s.Member, err)
	}
	x.ev("disabling service")
	if err := h.Disable(ctx); err != nil {
		return fmt.Errorf("%s was stopped, but its service could not be disabled: %w", s.Member, err)
	}
	dd := s.Target.DataDir
	x.ev("moving data dir aside")
	if err := h.MoveAside(ctx, path.Join(dd, "member"), x.aside(dd)); err != nil {
		return fmt.Errorf("%s was stopped and disabled, but its data dir's member/ was not moved aside: %w", s.Member, err)
	}
	return nil
}

// recoverSurvivor makes the survivor of a lost quorum a one-member cluster
// from its own data: stop it, move its member/ aside (kept: the copy the
// recovery starts from), restore that copy's backend into a new member/
// with a new cluster token (hence a new cluster ID), the revision bumped
// and the history marked compacted, write its config, enable and start.
// Its name, peer URL and token come from the step's config.
func (x *executor) recoverSurvivor(ctx context.Context, s model.Step) error {
	t := s.Target
	if t == nil || len(s.Config) == 0 {
		return fmt.Errorf("recover %s: the step names no host or config (plan again with this etcdform)", s.Member)
	}
	cfg, err := etcdconf.Parse(s.Config)
	if err == nil && len(cfg.Unknown) > 0 {
		err = fmt.Errorf("unknown keys %v", cfg.Unknown)
	}
	if err == nil && (cfg.File.Name == "" || cfg.File.InitialAdvertisePeerURLs == "" || cfg.File.InitialClusterToken == "") {
		err = fmt.Errorf("it names no member name, peer URL or cluster token")
	}
	if err != nil {
		return fmt.Errorf("the config of %s cannot be used, nothing was changed: %w", s.Member, err)
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev("stopping service")
	if err := h.Stop(ctx); err != nil {
		return fmt.Errorf("stopping %s, nothing else was changed: %w", s.Member, err)
	}
	dd := t.DataDir
	aside := x.aside(dd)
	x.ev("moving data dir aside")
	if err := h.MoveAside(ctx, path.Join(dd, "member"), aside); err != nil {
		return fmt.Errorf("%s was stopped, but its data dir's member/ was not moved aside (start it again by hand to go back): %w", s.Member, err)
	}
	x.ev("restoring its data as a new cluster")
	r := Restore{Etcdutl: path.Join(path.Dir(t.Binary), "etcdutl"), From: path.Join(aside, "snap", "db"), DataDir: dd,
		Name: cfg.File.Name, PeerURL: cfg.File.InitialAdvertisePeerURLs, Token: cfg.File.InitialClusterToken, BumpRevision: model.RecoverBumpRevision}
	if err := h.Restore(ctx, r); err != nil {
		return fmt.Errorf("%s's data, moved aside to %s, could not be restored as a new cluster (move it back to %s/member and start the service to go back): %w", s.Member, aside, dd, err)
	}
	x.ev("writing config")
	if err := h.InstallFiles(ctx, []File{{Path: t.ConfigFile, Data: s.Config, Mode: 0o644}}); err != nil {
		return fmt.Errorf("%s was restored as a new cluster, but its config could not be written: %w", s.Member, err)
	}
	x.ev("starting")
	if err := h.Enable(ctx); err != nil {
		return fmt.Errorf("enabling the etcd service of %s: %w", s.Member, err)
	}
	return h.Start(ctx)
}
