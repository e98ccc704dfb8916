package plan

import "fmt"

// checks reports alarms and refuses an unsafe quota.
func (cp *clusterPlanner) checks() {
	c, oc := cp.c, cp.oc
	for _, al := range oc.Alarms {
		if al.Type == "NOSPACE" || al.Type == "CORRUPT" {
			continue // maintenance.go plans their recovery or refuses
		}
		who := fmt.Sprintf("%x", al.MemberID)
		for _, lm := range oc.Members {
			if lm.ID == al.MemberID && lm.Name != "" {
				who = lm.Name
			}
		}
		cp.warn(who, "Alarm raised", "Alarm %s is raised on member %s. Clear its cause (for NOSPACE: compact, defragment, raise the quota) and disarm it; apply's health gate fails while an alarm is raised.", al.Type, who)
	}
	if oc.LeaderID == 0 {
		cp.warn("", "No leader observed", "No member of cluster %s reported a leader. Apply's health gate requires exactly one leader.", c.Name)
	}
	var largest int64
	var who string
	for _, lm := range oc.Members {
		if lm.Status != nil && lm.Status.DBSize > largest {
			largest, who = lm.Status.DBSize, lm.Name
		}
	}
	margin := max(int64(QuotaMarginMin), largest*QuotaMarginPercent/100)
	if largest == 0 || c.Storage.QuotaBackendBytes > largest+margin {
		return
	}
	changing := false
	for _, m := range c.Members {
		if h := oc.Hosts[m.Name]; h == nil || h.Config == nil || h.Config.QuotaBackendBytes != c.Storage.QuotaBackendBytes {
			changing = true
		}
	}
	if changing {
		cp.refuse("", 0, "Quota too small for the data",
			"quota_backend_bytes = %d is at or below the largest member's DB size (%s: %d bytes) plus a margin of %d bytes; etcd would raise a cluster-wide NOSPACE alarm on the next write. Compact and defragment first, or choose a quota above %d.", c.Storage.QuotaBackendBytes, who, largest, margin, largest+margin)
		return
	}
	cp.warn("", "DB close to quota", "The largest member's DB (%s: %d bytes) is within %d bytes of quota_backend_bytes = %d. Compact and defragment, or raise the quota.", who, largest, margin, c.Storage.QuotaBackendBytes)
}
