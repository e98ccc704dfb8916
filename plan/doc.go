// Package plan holds the plan model (typed steps, their changes and the
// fault tolerance kept during each) and Make, the pure planner that turns
// desired (schema) plus observed state (package state) into an ordered,
// checked plan. It does no I/O; the file format lives in plan/planfile.
package plan
