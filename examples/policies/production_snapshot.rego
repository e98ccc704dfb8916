# A production cluster's plan takes a snapshot before it changes anything.
# Production clusters are those whose name starts with "prod".
package etcdform.production_snapshot

production(name) if startswith(name, "prod")

has_snapshot(name) if {
	some step in input.steps
	step.cluster == name
	step.action == "snapshot"
}

deny contains msg if {
	some c in input.clusters
	production(c.name)
	count(c.steps) > 0
	not has_snapshot(c.name)
	msg := sprintf("cluster %s is a production cluster and its plan takes no snapshot before its %d steps", [c.name, count(c.steps)])
}
