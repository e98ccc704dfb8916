package etcdform_test.removals_need_label

import data.etcdform.removals_need_label.deny

removal := {"steps": [{"index": 3, "action": "remove-member", "cluster": "eu-1", "member": "etcd-4"}]}

test_removal_with_label_passes if {
	count(deny) == 0 with input as object.union(removal, {"ci": {"labels": ["etcdform:allow-removal"]}})
}

test_removal_without_label_fails if {
	deny == {`step 3 removes member etcd-4 of cluster eu-1; add the merge-request label "etcdform:allow-removal" to allow it`} with input as object.union(removal, {"ci": {"labels": ["database"]}})
}
