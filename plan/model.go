package plan

import "github.com/etcdform/etcdform/plan/model"

// The plan's types live in plan/model, which reads no configuration (so
// that apply and the plan file do not depend on the planner's inputs); the
// planner and its callers use them under these names.

type (
	Action         = model.Action
	ActionInfo     = model.ActionInfo
	AuthChange     = model.AuthChange
	Permission     = model.Permission
	PasswordSource = model.PasswordSource
	Bastion        = model.Bastion
	Change         = model.Change
	ClusterTarget  = model.ClusterTarget
	Effect         = model.Effect
	File           = model.File
	Gate           = model.Gate
	HostAddr       = model.HostAddr
	JobInstall     = model.JobInstall
	Meta           = model.Meta
	Plan           = model.Plan
	RiskNote       = model.RiskNote
	BackupSnapshot = model.BackupSnapshot
	Service        = model.Service
	Step           = model.Step
	Target         = model.Target
	Timeout        = model.Timeout
	Tolerance      = model.Tolerance
	Upload         = model.Upload
	Warning        = model.Warning
)

// The actions and the values of the actions table (plan/model/action.go).
const (
	NoOp                = model.NoOp
	Snapshot            = model.Snapshot
	AddLearner          = model.AddLearner
	Promote             = model.Promote
	RemoveMember        = model.RemoveMember
	WriteConfig         = model.WriteConfig
	Restart             = model.Restart
	StartMember         = model.StartMember
	UploadFile          = model.UploadFile
	InstallBackupJob    = model.InstallBackupJob
	Compact             = model.Compact
	Defrag              = model.Defrag
	DisarmAlarm         = model.DisarmAlarm
	InstallBinary       = model.InstallBinary
	InstallService      = model.InstallService
	BootstrapStart      = model.BootstrapStart
	StopMember          = model.StopMember
	RecoverSurvivor     = model.RecoverSurvivor
	UpgradeMember       = model.UpgradeMember
	StageBinary         = model.StageBinary
	CheckV2Store        = model.CheckV2Store
	AddRole             = model.AddRole
	GrantPermission     = model.GrantPermission
	RevokePermission    = model.RevokePermission
	AddUser             = model.AddUser
	GrantRole           = model.GrantRole
	RevokeRole          = model.RevokeRole
	SetPassword         = model.SetPassword
	EnableAuth          = model.EnableAuth
	DisableAuth         = model.DisableAuth
	FetchBackup         = model.FetchBackup
	RestoreMember       = model.RestoreMember
	DowngradeValidate   = model.DowngradeValidate
	DowngradeEnable     = model.DowngradeEnable
	DowngradeMember     = model.DowngradeMember
	WaitClusterVersion  = model.WaitClusterVersion
	EffectOther         = model.EffectOther
	EffectAdd           = model.EffectAdd
	EffectRemove        = model.EffectRemove
	EffectConfig        = model.EffectConfig
	EffectRestart       = model.EffectRestart
	GateNone            = model.GateNone
	GateAll             = model.GateAll
	GateOthers          = model.GateOthers
	ToleranceKept       = model.ToleranceKept
	ToleranceMemberDown = model.ToleranceMemberDown
	ToleranceMembership = model.ToleranceMembership
	TimeoutStep         = model.TimeoutStep
	TimeoutBackupRun    = model.TimeoutBackupRun
	TimeoutDBSize       = model.TimeoutDBSize
)

// AsidePrefix and RecoverBumpRevision: see plan/model.
const (
	AsidePrefix         = model.AsidePrefix
	RecoverBumpRevision = model.RecoverBumpRevision
)

// DisarmLimit is the largest DB size at which a NOSPACE disarm goes ahead
// under quota (model.DisarmLimit).
func DisarmLimit(quota int64) int64 { return model.DisarmLimit(quota) }

// Actions returns the table of actions, one row per action, in summary
// order.
func Actions() []ActionInfo { return model.Actions() }

// ActionNamed returns the action whose Name is name.
func ActionNamed(name string) (Action, bool) { return model.ActionNamed(name) }
