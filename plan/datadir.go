package plan

import "fmt"

// dataDirs compares what each kept member's data dir holds (state.DataDir,
// read from its WAL) with the live member list. A down voter whose data dir
// holds no WAL is a rebuilt host (or one whose data was lost): started, it
// could not rejoin, so it is marked rebuilt and removeDeadAndStale
// replaces it under the same name and URLs. A data dir of another member
// or another cluster is refused, naming both IDs: started on it, etcd
// would run as that other member. A down member whose data dir is intact
// is started as before (recoverDown).
func (cp *clusterPlanner) dataDirs() {
	for _, m := range cp.kept {
		h := m.host
		if m.hostDown || h == nil || h.Data == nil {
			continue
		}
		d, dir, on := h.Data, cp.c.Service.DataDir, m.desired.Host
		switch {
		case d.Error != "":
			if m.down {
				cp.warn(m.name, "Data dir unreadable",
					"Member %s is down and the WAL in its data dir %s on %s cannot be read (%s), so whether it still holds the member's data is unknown. It is started as a member that kept its data; if the host was rebuilt, move %s/member aside by hand and plan again, so that the member is replaced.", m.name, dir, on, d.Error, dir)
			}
		case !d.HasWAL:
			if m.down && !m.live.IsLearner {
				m.rebuilt = true
				if h.DataDirStray {
					// The replacement moves member/ aside after the
					// removal; the learner's start needs the dir empty,
					// so anything else there would stop the apply with
					// the member already removed.
					cp.refuse(m.name, 0, "Rebuilt member's data dir not empty",
						"Member %s is down and its data dir %s on %s holds no WAL but holds entries besides member/. Its replacement (remove, add again as a learner) needs the data dir empty once member/ is moved aside. Move those entries aside on the host (never delete what you have not read) and plan again.", m.name, dir, on)
				}
			}
		case d.ClusterID != cp.oc.ClusterID:
			cp.refuse(m.name, 0, "Data dir of another cluster",
				"The data dir %s on %s (member %s) holds member %x of cluster %x, but cluster %s is cluster %x, where %s is member %x. Started on it, etcd would run as a member of the other cluster. Move %s/member aside on the host (never delete it before you know whose data it is) or restore this member's own, and plan again: an empty data dir is replaced under the same name.",
				dir, on, m.name, d.MemberID, d.ClusterID, cp.c.Name, cp.oc.ClusterID, m.name, m.id(), dir)
		case d.MemberID != m.id():
			cp.refuse(m.name, 0, "Data dir of another member",
				"The data dir %s on %s (member %s, ID %x) holds member %x of the same cluster %x. Started on it, etcd would run as that other member a second time. Move %s/member aside on the host or restore this member's own, and plan again: an empty data dir is replaced under the same name.",
				dir, on, m.name, m.id(), d.MemberID, d.ClusterID, dir)
		}
	}
}

// rebuildReason is the reason of the removal that starts a rebuilt
// member's replacement.
func rebuildReason(m *member, dataDir string) string {
	return fmt.Sprintf("The member is down and its data dir %s holds no WAL (the host was rebuilt or its data lost), so it cannot rejoin as member %x: remove that ID, then add the host again as a learner under the same name and URLs and promote it", dataDir, m.id())
}
