// Package history records a history of concurrent puts and linearizable
// gets on a few keys of an etcd cluster, and checks it for
// linearizability with porcupine (the checker etcd's own robustness tests
// use). It is a test helper for the e2e applies: a test starts a Recorder
// before an apply and calls Verify after it.
//
// Every operation carries its call and return time on a monotonic clock.
// An operation that ends in an error (a timeout, an unavailable member, a
// NOSPACE refusal) has an unknown outcome: a failed put may or may not
// have taken effect, and the model lets it take effect at any point after
// its call (or never); a failed get says nothing and is left out of the
// check.
package history
