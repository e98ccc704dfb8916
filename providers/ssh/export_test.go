package ssh

import "context"

// Script runs script with args as $1... as the client's methods do (in a
// batch's view, inline in the batch's shell), for the tests of package
// ssh_test.
func (c *Client) Script(ctx context.Context, script string, args ...string) (stdout, stderr []byte, code int, err error) {
	return c.script(ctx, script, nil, args...)
}
