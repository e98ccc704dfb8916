// Package backupjob owns the scheduled backup job as it sits on a host: the
// JobSpec a cluster's backup block wants on a member's host, the cron.d file
// that runs `etcdform backup run` with it (rendered, and read back with a
// check for hand edits), and the attribute diff plan shows. It depends only
// on schema, so the pure planner can use it.
package backupjob
