// Package plan holds the observed-state model, the plan model (typed steps,
// their changes and the fault tolerance kept during each) and Make, the pure
// planner that turns desired plus observed state into an ordered, checked
// plan. It does no I/O; the file format lives in plan/planfile.
package plan
