# A plan never lowers a cluster's storage quota: a database larger than
# the new quota raises NOSPACE and the cluster stops taking writes.
package etcdform.quota_never_decreases

deny contains msg if {
	some step in input.steps
	step.action == "write-config"
	some change in step.changes
	change.attr == "quota-backend-bytes"
	to_number(change.after) < to_number(change.before)
	msg := sprintf("step %d lowers the quota of %s/%s from %s to %s bytes", [step.index, step.cluster, step.member, change.before, change.after])
}
