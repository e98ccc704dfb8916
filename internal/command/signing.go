package command

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
)

// The environment variables that turn plan signing on. Each holds a key as
// planfile.ParsePrivateKey / ParsePublicKey accept it: PEM text, base64 of
// the raw key, or the path of a PEM file (docs/ci.md).
const (
	envSigningKey = "ETCDFORM_PLAN_SIGNING_KEY"
	envVerifyKey  = "ETCDFORM_PLAN_VERIFY_KEY"
)

// planSigningKey is the key `plan --out` signs with, or nil when
// ETCDFORM_PLAN_SIGNING_KEY is unset.
func planSigningKey(env *Env) (ed25519.PrivateKey, error) {
	s := env.Getenv(envSigningKey)
	if s == "" {
		return nil, nil
	}
	k, err := planfile.ParsePrivateKey(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envSigningKey, err)
	}
	return k, nil
}

// planVerifyKey is the key apply requires plans to be signed with, or nil
// when ETCDFORM_PLAN_VERIFY_KEY is unset.
func planVerifyKey(env *Env) (ed25519.PublicKey, error) {
	s := env.Getenv(envVerifyKey)
	if s == "" {
		return nil, nil
	}
	k, err := planfile.ParsePublicKey(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envVerifyKey, err)
	}
	return k, nil
}

// writePlanFile writes p to path, signed when key is not nil.
func writePlanFile(path string, p *plan.Plan, key ed25519.PrivateKey) error {
	if key != nil {
		return planfile.WriteFileSigned(path, p, key)
	}
	return planfile.WriteFile(path, p)
}

// readPlan reads a saved plan, also requiring a valid signature when
// ETCDFORM_PLAN_VERIFY_KEY is set.
func readPlan(env *Env, data []byte) (*plan.Plan, error) {
	key, err := planVerifyKey(env)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return planfile.Read(bytes.NewReader(data))
	}
	p, err := planfile.ReadVerified(bytes.NewReader(data), key)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stdout, "The plan is signed by the key in %s (%s).\n\n", envVerifyKey, planfile.KeyID(key))
	return p, nil
}
