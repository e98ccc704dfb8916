package plan

import "time"

// Action is the kind of one step. Apply decides what to do from the Action
// alone, never from the Reason prose.
type Action rune

const (
	NoOp Action = 0
	// Snapshot takes and verifies a snapshot before risky work.
	Snapshot Action = 'S'
	// AddLearner adds a member as a learner, writes its config with
	// initial-cluster-state "existing", starts it and waits for catch-up.
	AddLearner Action = '+'
	// Promote promotes the learner added by the preceding AddLearner.
	Promote Action = '^'
	// RemoveMember moves leadership away if needed, removes the member,
	// stops its service and moves its data dir aside.
	RemoveMember Action = '-'
	// WriteConfig writes a member's config file atomically (After holds
	// the whole file). It does not restart.
	WriteConfig Action = '~'
	// Restart restarts a member through its service manager; if it leads
	// when its turn comes, leadership is moved away first.
	Restart Action = 'R'
	// StartMember starts a member whose service is stopped.
	StartMember Action = '>'
)

func (a Action) String() string {
	switch a {
	case NoOp:
		return "no-op"
	case Snapshot:
		return "snapshot"
	case AddLearner:
		return "add-learner"
	case Promote:
		return "promote"
	case RemoveMember:
		return "remove-member"
	case WriteConfig:
		return "write-config"
	case Restart:
		return "restart"
	case StartMember:
		return "start-member"
	}
	return "Action(" + string(rune(a)) + ")"
}

// IsRisky reports whether a step of this kind can reduce availability and so
// needs a snapshot before the first one and a health gate after each one.
func (a Action) IsRisky() bool {
	switch a {
	case AddLearner, Promote, RemoveMember, Restart, StartMember:
		return true
	}
	return false
}

// Change is one attribute difference that motivates a step.
//
//	Action        Before               After
//	AddLearner    ""                   peer URL
//	RemoveMember  peer URL             ""
//	WriteConfig   observed value       desired value (per attribute)
//	Restart       running value        desired value
type Change struct {
	Attr   string // etcd key or model attribute, e.g. "quota-backend-bytes"
	Before string
	After  string
}

// Step is one unit of apply work on one member of one cluster.
type Step struct {
	Action  Action
	Cluster string
	Member  string // member name
	// MemberID is the live member ID for steps on existing members (0 for
	// an AddLearner).
	MemberID uint64
	Reason   string // for display only
	Changes  []Change
	// Config is the full config file to write (WriteConfig) or the
	// template for a new member (AddLearner; initial-cluster is filled in
	// at apply time from the live member list).
	Config []byte
	// Voters is the number of voting members during the step, and
	// Tolerated the failures the cluster survives while it runs.
	Voters    int
	Tolerated int
}

// Plan is an ordered list of steps with everything apply needs to decide
// whether the world it was planned against still holds.
type Plan struct {
	Meta        Meta
	Fingerprint Fingerprint
	Steps       []Step
	// Warnings are shown but do not block (drift, unmanaged keys, certs
	// expiring soon).
	Warnings []Warning
	// Refusals are reasons the plan cannot be applied; a plan with
	// refusals is written for review but apply rejects it.
	Refusals []Warning
}

// Warning is a message about one cluster/member.
type Warning struct {
	Cluster string
	Member  string
	Summary string
	Detail  string
}

// Meta records who planned what, when.
type Meta struct {
	ToolVersion string
	Time        time.Time
	GitCommit   string
	Author      string
	ConfigHash  string // schema.Config.Hash
	ConfigDir   string
}

// Fingerprint is the part of the observed state that apply re-checks. A
// leader change alone does not alter it.
type Fingerprint struct {
	Clusters []ClusterFingerprint
}

// ClusterFingerprint identifies one cluster's observed state.
type ClusterFingerprint struct {
	Name      string
	ClusterID uint64
	Members   []MemberFingerprint // sorted by name
}

// MemberFingerprint identifies one member's observed state.
type MemberFingerprint struct {
	Name          string
	ID            uint64
	PeerURLs      []string
	ClientURLs    []string
	IsLearner     bool
	ConfigHash    string
	BinaryVersion string
	ServiceState  string
	CertSerials   []string
}

// HasChanges reports whether the plan has any step.
func (p *Plan) HasChanges() bool { return len(p.Steps) > 0 }
