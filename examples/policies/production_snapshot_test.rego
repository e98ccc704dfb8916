package etcdform_test.production_snapshot

import data.etcdform.production_snapshot.deny

plan(actions) := {
	"clusters": [{"name": "prod-eu-1", "steps": [i | some i, _ in actions]}],
	"steps": [{"index": i, "action": a, "cluster": "prod-eu-1"} | some i, a in actions],
}

test_with_snapshot_passes if {
	count(deny) == 0 with input as plan(["snapshot", "write-config", "restart"])
}

test_without_snapshot_fails if {
	deny == {"cluster prod-eu-1 is a production cluster and its plan takes no snapshot before its 2 steps"} with input as plan(["write-config", "restart"])
}

test_staging_without_snapshot_passes if {
	count(deny) == 0 with input as {"clusters": [{"name": "staging", "steps": [0]}], "steps": [{"index": 1, "action": "restart", "cluster": "staging"}]}
}
