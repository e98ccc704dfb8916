# A plan that removes a member needs the merge-request label
# "etcdform:allow-removal": a reviewer says that the removal is meant.
package etcdform.removals_need_label

label := "etcdform:allow-removal"

deny contains msg if {
	some step in input.steps
	step.action == "remove-member"
	not label in input.ci.labels
	msg := sprintf("step %d removes member %s of cluster %s; add the merge-request label %q to allow it", [step.index, step.member, step.cluster, label])
}
