// Package github posts etcdform's plan comment to a GitHub pull request
// through the issue-comments REST API, as a comment.Store: list (following
// Link rel="next"), create, update in place and delete comments, with
// retries and errors that name the missing permission or variable.
package github
