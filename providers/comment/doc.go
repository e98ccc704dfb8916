// Package comment is what the merge-request comment providers share: the
// Store interface that providers/gitlab and providers/github implement,
// Publish (create or update the one plan comment, found by its marker),
// Parts (split a long plan at line boundaries without breaking code fences,
// <details> blocks or tables) and the retrying HTTP client they use.
package comment
