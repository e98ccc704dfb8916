package etcdform_test.quota_never_decreases

import data.etcdform.quota_never_decreases.deny

quota_step(before, after) := {
	"index": 2, "action": "write-config", "cluster": "eu-1", "member": "etcd-1",
	"changes": [{"attr": "quota-backend-bytes", "before": before, "after": after}],
}

test_raise_passes if {
	count(deny) == 0 with input as {"steps": [quota_step("2147483648", "4294967296")]}
}

test_lower_fails if {
	deny == {"step 2 lowers the quota of eu-1/etcd-1 from 4294967296 to 2147483648 bytes"} with input as {"steps": [quota_step("4294967296", "2147483648")]}
}
