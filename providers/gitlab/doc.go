// Package gitlab posts etcdform's plan comment to a GitLab merge request
// through the Notes API (v4), as a comment.Store: list (paging with
// X-Next-Page), create, update in place and delete notes, with retries and
// errors that name the missing scope, access or CI variable.
package gitlab
