package etcdform_test.one_leader_restart

import data.etcdform.one_leader_restart.deny

restart(cluster, leader) := {"action": "restart", "cluster": cluster, "member": "etcd-1", "leader": leader}

test_one_leader_passes if {
	count(deny) == 0 with input as {"steps": [restart("eu-1", false), restart("eu-1", true), restart("eu-2", false)]}
}

test_two_leaders_fails if {
	deny == {"the plan restarts the leaders of 2 clusters (eu-1, eu-2); plan them one at a time with --cluster"} with input as {"steps": [restart("eu-1", true), restart("eu-2", true)]}
}
