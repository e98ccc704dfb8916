package connect

import (
	"context"
	"testing"

	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// TestBinaryVersions: a member whose service runs its binary file as it is
// now takes its binary version from its status; a member whose process
// runs another file (a binary swapped since its start), or whose host
// already knows the version, keeps what its host said; a member whose
// status another member answered is asked on its host.
func TestBinaryVersions(t *testing.T) {
	c := &schema.Cluster{Name: "c", Members: []*schema.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	oc := &state.Cluster{
		Members: []state.Member{
			{ID: 1, Name: "a", Status: &state.EndpointStatus{MemberID: 1, Version: "3.6.16"}},
			{ID: 2, Name: "b", Status: &state.EndpointStatus{MemberID: 2, Version: "3.6.16"}},
			{ID: 3, Name: "c", Status: &state.EndpointStatus{MemberID: 3, Version: "3.6.16"}},
			{ID: 4, Name: "d", Status: &state.EndpointStatus{MemberID: 1, Version: "3.6.16"}}, // member 1 answered at d's URL
		},
		Hosts: map[string]*state.Host{
			"a": {Member: "a"},
			"b": {Member: "b", BinaryVersion: "3.7.3"}, // swapped, not yet restarted: asked
			"c": {Member: "c", BinaryVersion: "3.7.3"},
			"d": {Member: "d"}, // asked after all (no host here to ask: stays unknown)
		},
	}
	c.Members = append(c.Members, &schema.Member{Name: "d", Host: "127.0.0.1"})
	// A context that has ended: d's host is not dialled (nothing is sent).
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	binaryVersions(ctx, c, oc, []bool{true, false, true, true}, nil)
	for name, want := range map[string]string{"a": "3.6.16", "b": "3.7.3", "c": "3.7.3", "d": ""} {
		if got := oc.Hosts[name].BinaryVersion; got != want {
			t.Errorf("%s: binary version %q, want %q", name, got, want)
		}
	}
}
