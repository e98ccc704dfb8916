// Package model holds the plan's types: the typed Action and its table,
// Step, Change, Upload, JobInstall, File, Plan, and the targets that say
// where a step acts. It reads no configuration, so the executor (apply) and
// the plan file (planfile) take them without the planner's dependencies;
// package plan, the planner, re-exports them under the same names.
package model
