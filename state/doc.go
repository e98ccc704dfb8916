// Package state is the observed model of the live clusters (Observed:
// members, endpoint status, alarms, host facts, certificates, backups) and
// the fingerprint that apply re-checks to tell whether a plan went stale.
//
// It sits at the bottom of the import graph: the providers fill it in and
// import neither plan nor apply, and the planner (plan) reads it. It holds
// facts only, never secrets or key material.
package state
