# A plan restarts the leader of at most one cluster: two leader elections
# at once across the fleet is more risk than one change should carry.
package etcdform.one_leader_restart

leader_clusters contains step.cluster if {
	some step in input.steps
	step.action == "restart"
	step.leader
}

deny contains msg if {
	count(leader_clusters) > 1
	msg := sprintf("the plan restarts the leaders of %d clusters (%s); plan them one at a time with --cluster", [count(leader_clusters), concat(", ", sort(leader_clusters))])
}
