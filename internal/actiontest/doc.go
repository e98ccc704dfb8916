// Package actiontest holds TestActionTable, which walks every row of the
// actions table (plan.Actions) through the parts of etcdform that know
// actions: the plan file, the human, JSON and Markdown views, apply's
// handlers and docs/plan-json.md. It has no code of its own.
package actiontest
