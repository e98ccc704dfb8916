package plan

import (
	"fmt"

	"github.com/etcdform/etcdform/plan/model"
)

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
	var largest, reclaim, total int64
	var who string
	for _, lm := range oc.Members {
		if lm.Status == nil {
			continue
		}
		total += reclaimable(lm.Status)
		if lm.Status.DBSize > largest {
			largest, who, reclaim = lm.Status.DBSize, lm.Name, reclaimable(lm.Status)
		}
	}
	quota := c.Storage.QuotaBackendBytes
	margin := model.QuotaMargin(largest)
	if largest == 0 {
		return
	}
	if quota <= largest+margin {
		changing := false
		for _, m := range c.Members {
			if h := oc.Hosts[m.Name]; h == nil || h.Config == nil || h.Config.QuotaBackendBytes != quota {
				changing = true
			}
		}
		if changing {
			cp.refuse("", 0, "Quota too small for the data",
				"quota_backend_bytes = %d is at or below the largest member's DB size (%s: %d bytes) plus a margin of %d bytes; etcd would raise a cluster-wide NOSPACE alarm on the next write. Compact and defragment first, or choose a quota above %d.", quota, who, largest, margin, largest+margin)
			return
		}
	} else if largest*100 < QuotaWarnPercent*quota {
		return
	}
	cp.warn(who, "DB close to quota",
		"The largest member's DB (%s: %s) is %d%% of quota_backend_bytes = %s; etcd raises NOSPACE and refuses writes when it reaches the quota (the guide warns at %d%%). A defrag would reclaim ~%s on %s (~%s on all members); compact first to reclaim more. Add a maintenance { defrag {} } block so that plans defragment, or raise the quota.",
		who, FormatSize(largest), largest*100/quota, FormatSize(quota), QuotaWarnPercent, FormatSize(reclaim), who, FormatSize(total))
}
