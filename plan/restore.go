package plan

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	"github.com/etcdform/etcdform/state"
)

// A restore from a backup (`plan --restore-from latest|ID`, issue 16 #3)
// brings a cluster back from a snapshot at its backup destination when its
// members' data is gone. It is planned only when asked for, and only when
// the observed state allows it (restoreAllowed):
//
//   - every member's host answers over SSH (the same snapshot is restored
//     on every member; one left out would keep the old cluster);
//   - no member reports a leader: etcdform never rolls back a running
//     cluster (a restore discards every write after the backup; whoever
//     really wants that stops etcd on the members first, by hand, and
//     plans again with --restore-over-data);
//   - every member's data dir is empty, or --restore-over-data says to
//     restore over the data there (moved aside, never deleted; with a
//     survivor `plan --recover` loses less, and the refusal says so).
//
// The steps: fetch-backup (the snapshot fetched where etcdform runs,
// decrypted with the identity given to apply, checked against the record
// the plan shows, before any host is touched); stop-member of every member
// (stopped, disabled, its member/ moved aside when there is one);
// restore-member of every member (the same snapshot uploaded, checked and
// restored with etcdutl snapshot restore as a member of a new cluster: the
// whole initial cluster from the configuration, a new cluster token, the
// revision bumped by RecoverBumpRevision and the history marked
// compacted; its config written with initial-cluster-state new); then a
// bootstrap-start of every member, gated once after the last.

// RestoreLatest is the --restore-from value that picks the newest
// snapshot of the cluster.
const RestoreLatest = "latest"

// pickBackup returns the record of the cluster's snapshot that from names:
// RestoreLatest for the newest, else a snapshot ID or object name. ok is
// false after a refusal.
func (cp *clusterPlanner) pickBackup(from string) (state.BackupRecord, bool) {
	c, ob := cp.c, cp.oc.Backups
	switch {
	case c.Backup == nil:
		cp.refuse("", 0, "No backup destination",
			"Cluster %s has no backup block, so there is no backup destination to restore from. Add the backup block the backups were made with and plan again.", c.Name)
		return state.BackupRecord{}, false
	case ob == nil || ob.Error != "":
		why := "it was not observed"
		if ob != nil {
			why = ob.Error
		}
		cp.refuse("", 0, "Backup destination not readable",
			"The backup destination %s of cluster %s could not be listed: %s. Nothing can be restored without its records; check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and the endpoint, and plan again.", c.Backup.Destination, c.Name, why)
		return state.BackupRecord{}, false
	case len(ob.Snapshots) == 0:
		cp.refuse("", 0, "No backup to restore",
			"The backup destination %s holds no complete snapshot of cluster %s (a snapshot counts once its record is written), so nothing can be restored.", ob.Destination, c.Name)
		return state.BackupRecord{}, false
	}
	if from == RestoreLatest {
		return ob.Snapshots[len(ob.Snapshots)-1], true
	}
	var ids []string
	for _, r := range ob.Snapshots {
		if r.ID == from || r.Object == from {
			return r, true
		}
		ids = append(ids, r.ID)
	}
	cp.refuse("", 0, "Backup not found",
		"The backup destination %s holds no snapshot %q of cluster %s. It holds (oldest first): %s. Name one of them, or %q for the newest.", ob.Destination, from, c.Name, strings.Join(ids, ", "), RestoreLatest)
	return state.BackupRecord{}, false
}

// restoreAllowed decides from the observed state whether cp's cluster may
// be restored from a backup (see the top of this file), refusing with the
// reason otherwise. It returns the members whose data dir holds data (moved
// aside by the restore), by name, with what they hold.
func (cp *clusterPlanner) restoreAllowed() (map[string]string, bool) {
	c, oc := cp.c, cp.oc
	ok := true
	if oc.Reachable && oc.LeaderID != 0 {
		leader := fmt.Sprintf("%x", oc.LeaderID)
		for _, lm := range oc.Members {
			if lm.ID == oc.LeaderID && lm.Name != "" {
				leader = lm.Name
			}
		}
		cp.refuse("", 0, "Cluster is running",
			"Cluster %s runs: %s leads it. A restore from a backup discards every write made after the backup, and etcdform never rolls back a running cluster. If the data in it is what is wrong and you mean to go back to the backup, stop etcd on every member yourself, then plan again with --restore-from and --restore-over-data (the data dirs are moved aside, not deleted).", c.Name, leader)
		ok = false
	}
	data := map[string]string{}
	var unreachable, binaries, withData []string
	for _, m := range c.Members {
		h := oc.Hosts[m.Name]
		switch {
		case h == nil || !h.Reachable:
			unreachable = append(unreachable, fmt.Sprintf("%s (%s: %s)", m.Name, m.Host, hostError(h)))
			continue
		case h.BinaryVersion == "":
			binaries = append(binaries, fmt.Sprintf("%s (%s)", m.Name, c.Service.Binary))
		case !h.DataDirExists:
			binaries = append(binaries, fmt.Sprintf("%s (no data dir %s)", m.Name, c.Service.DataDir))
		}
		if !h.DataDirEmpty {
			what := fmt.Sprintf("%d bytes", h.DataDirBytes)
			if l := h.Data.Label(); l != "" {
				what = l + ", " + what
			}
			data[m.Name] = what
			withData = append(withData, fmt.Sprintf("%s (%s)", m.Name, what))
		}
	}
	if len(unreachable) > 0 {
		cp.refuse("", 0, "Restore needs every host",
			"The same snapshot is restored on every member of cluster %s, so every member's host must answer over SSH, and these do not: %s. A member left out would still hold the old cluster. Bring the hosts back (or take them out of the configuration) and plan again.", c.Name, strings.Join(unreachable, "; "))
		ok = false
	}
	if len(binaries) > 0 {
		cp.refuse("", 0, "Host not set up for etcd",
			"The hosts of %s lack etcd's binary or data dir: the restore runs the etcdutl beside the etcd binary and restores into the data dir (kept with its owner and mode). Install etcd and its service (a plan without --restore-from does, with an install block) and plan again.", strings.Join(binaries, ", "))
		ok = false
	}
	if len(withData) > 0 && !cp.opts.RestoreOverData && ok {
		hint := ""
		if cp.oc.Reachable && cp.lostQuorumAny() {
			hint = " A member that still answers holds newer data than any backup: `etcdform plan --recover` recovers from it and loses less."
		}
		cp.refuse("", 0, "Data dirs hold data",
			"A restore from a backup replaces the data of every member of cluster %s, and these data dirs hold data: %s.%s To restore the backup anyway, plan again with --restore-over-data: each member/ is moved aside (kept, named %s<time>), never deleted.", c.Name, strings.Join(withData, "; "), hint, AsidePrefix)
		ok = false
	}
	return data, ok
}

// lostQuorumAny: some member answers, but none reports a leader.
func (cp *clusterPlanner) lostQuorumAny() bool {
	if cp.oc.LeaderID != 0 {
		return false
	}
	for _, lm := range cp.oc.Members {
		if lm.Status != nil {
			return true
		}
	}
	return false
}

// restore plans the restore of cp's cluster from the backup
// Options.RestoreFrom names, or refuses it. It returns the ID of the
// snapshot restored ("" after a refusal).
func (cp *clusterPlanner) restore() string {
	c, oc := cp.c, cp.oc
	rec, ok := cp.pickBackup(cp.opts.RestoreFrom)
	data, allowed := cp.restoreAllowed()
	if !ok || !allowed {
		return ""
	}
	b := &BackupSnapshot{Destination: c.Backup.Destination, ID: rec.ID, Object: rec.Object, SHA256: rec.SHA256, Size: rec.Size,
		Encrypted: rec.Encrypted, Recipient: rec.Recipient, Time: rec.Time.UTC(), Revision: rec.Revision, KeyCount: rec.KeyCount, EtcdVersion: rec.EtcdVersion}
	taken := rec.Time.UTC().Format(time.RFC3339)
	age := "of unknown age"
	if !cp.now.IsZero() {
		age = cp.now.Sub(rec.Time).Round(time.Second).String() + " old when planned"
	}
	loss := fmt.Sprintf("keys written after revision %d (the backup's, taken at %s, %s) are lost", rec.Revision, taken, age)
	token := cp.opts.Tokens[c.Name]
	if token == "" {
		token = BootstrapToken(c.Name, cp.opts.Meta)
	}
	peers := map[string]string{}
	for _, m := range c.Members {
		peers[m.Name] = m.PeerURL
	}
	initial := etcdconf.InitialCluster(peers)
	decrypt := "it is not encrypted"
	if rec.Encrypted {
		decrypt = "it is decrypted with the age identity given to apply (--identity FILE or " + IdentityEnv + "; never stored in the plan), which must match its recipient " + rec.Recipient
	}
	cp.warn("", "Restore from a backup",
		"Cluster %s is restored from backup %s at %s: revision %d, %d keys, taken at %s (%s). DATA LOSS: %s. Every member is restored from the same snapshot as a member of a new cluster (a new cluster ID, the token %s), the revision bumped by %d with the history marked compacted, so clients' watches and caches see a jump and get a compaction error instead of silently missing events.",
		c.Name, rec.ID, c.Backup.Destination, rec.Revision, rec.KeyCount, taken, age, loss, token, RecoverBumpRevision)
	for _, lm := range oc.Members {
		if lm.Name != "" && c.Member(lm.Name) == nil {
			cp.warn(lm.Name, "Member left out of the restore", "Member %s is in the live member list but not in the configuration: the restored cluster does not include it. Before its etcd runs again, stop it and move its data dir's member/ aside by hand: it belongs to the old cluster.", lm.Name)
		}
	}
	if v := rec.EtcdVersion; v != "" && c.EtcdVersion != "" && minorOf(v) != minorOf(c.EtcdVersion) {
		cp.warn("", "Backup of another etcd version", "Backup %s was taken from etcd %s, and the cluster runs etcd %s. etcdutl %s restores it; check that this version reads that data (etcd supports one minor version step at a time).", rec.ID, v, c.EtcdVersion, c.EtcdVersion)
	}

	var steps []Step
	steps = append(steps, Step{Action: FetchBackup, Cluster: c.Name, Backup: b,
		Reason: fmt.Sprintf("Restore from a backup: fetch snapshot %s (%s) from %s where etcdform runs; %s; check its size, sha256 and trailing hash against the record below. A wrong identity or a damaged object stops the apply here, before any member is touched. The snapshot was taken at %s (%s). DATA LOSS: %s", rec.ID, rec.Object, c.Backup.Destination, decrypt, taken, age, loss),
		Changes: []Change{
			{Attr: "snapshot", After: rec.ID},
			{Attr: "object", After: rec.Object},
			{Attr: "sha256", After: rec.SHA256},
			{Attr: "size", After: fmt.Sprint(rec.Size)},
			{Attr: "revision", After: fmt.Sprint(rec.Revision)},
			{Attr: "key-count", After: fmt.Sprint(rec.KeyCount)},
			{Attr: "taken", After: taken},
		}})
	ids := map[string]uint64{}
	for _, lm := range oc.Members {
		if lm.Name != "" {
			ids[lm.Name] = lm.ID
		}
	}
	for _, m := range c.Members {
		h := oc.Hosts[m.Name]
		ch := []Change{{Attr: "service", Before: orUnknown(h.ServiceState), After: "stopped"}}
		what := "its data dir is empty"
		if d, ok := data[m.Name]; ok {
			ch = append(ch, Change{Attr: "data-dir " + path.Join(c.Service.DataDir, "member"), Before: d, After: "moved aside to " + AsidePrefix + "<time> (kept)"})
			what = fmt.Sprintf("its data dir's member/ (%s) is moved aside, kept, named %s<time>", d, AsidePrefix)
		}
		steps = append(steps, Step{Action: StopMember, Cluster: c.Name, Member: m.Name, MemberID: ids[m.Name],
			Reason:  "Restore from a backup: stop the member and disable its service so that nothing runs with the old data; " + what,
			Changes: ch})
	}
	for _, m := range c.Members {
		h := oc.Hosts[m.Name]
		version := h.BinaryVersion
		if c.EtcdVersion != "" && c.Install != nil {
			version = c.EtcdVersion
		}
		f, err := render.MemberFor(c, m, etcdconf.Bootstrap{InitialCluster: initial, Token: token, State: "new"}, version)
		var file []byte
		if err == nil {
			file, err = etcdconf.Marshal(f)
		}
		if err != nil {
			cp.refuseRender(m.Name, err)
			return ""
		}
		// Its TLS files first: a host that lost its data may have lost
		// them too.
		steps = append(steps, cp.startUploads(m, h)...)
		steps = append(steps, Step{Action: RestoreMember, Cluster: c.Name, Member: m.Name, PeerURL: m.PeerURL, Backup: b,
			Reason: fmt.Sprintf("Restore from a backup: upload snapshot %s (checked: sha256 %s) to the host and restore it into %s with etcdutl snapshot restore as member %s of a new cluster (initial cluster %s, token %s), the revision bumped by %d from %d and the history marked compacted; write its config (initial-cluster-state new). It is started with the others below", rec.ID, rec.SHA256, c.Service.DataDir, m.Name, initial, token, RecoverBumpRevision, rec.Revision),
			Changes: []Change{
				{Attr: "snapshot", After: rec.ID},
				{Attr: "revision", Before: fmt.Sprint(rec.Revision), After: fmt.Sprint(rec.Revision + RecoverBumpRevision)},
				{Attr: "key-count", After: fmt.Sprint(rec.KeyCount)},
				{Attr: "initial-cluster-state", After: "new"},
				{Attr: "initial-cluster-token", After: token},
			},
			Config: file, ConfigObserved: observedConfig(h)})
	}
	for _, m := range c.Members {
		steps = append(steps, Step{Action: BootstrapStart, Cluster: c.Name, Member: m.Name,
			Reason:  "Restore from a backup: enable and start the restored member without waiting for it; the health gate follows the last start",
			Changes: []Change{{Attr: "service", Before: "stopped", After: "running"}}})
	}
	cp.steps = append(cp.steps, steps...)
	return rec.ID
}

// IdentityEnv is the environment variable that can hold the age identity
// apply decrypts a backup with (the identity itself, for CI secrets),
// beside apply --identity FILE.
const IdentityEnv = "ETCDFORM_BACKUP_IDENTITY"

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// minorOf is "3.6" of "3.6.16".
func minorOf(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
