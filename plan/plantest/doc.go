// Package plantest builds desired and observed states for tests of the
// planner, the plan file and the plan views: a converged cluster of members
// etcd-N at 10.0.0.N, which a test then edits, and a Sample plan that uses
// every action.
package plantest
