package planfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/plantest"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func signed(t *testing.T, p *plan.Plan, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSigned(&buf, p, key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSignedRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	for name, want := range map[string]*plan.Plan{"sample": plantest.Sample(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			data := signed(t, want, priv)
			got, err := ReadVerified(bytes.NewReader(data), pub)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("signed round trip (-want +got):\n%s", diff)
			}
			// A signed plan is still a plan for readers without a key.
			if _, err := Read(bytes.NewReader(data)); err != nil {
				t.Errorf("Read of a signed plan: %v", err)
			}
		})
	}
}

func TestReadVerifiedRefuses(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	p := plantest.Sample()
	good := signed(t, p, priv)

	// The same payload with the signature of another plan, and a plan
	// edited in a way that keeps the checksum right (the checksum is not
	// a secret: anyone can recompute it).
	other := plantest.Sample()
	other.Steps = other.Steps[:1]
	var sigOfOther fileSignature
	{
		var env envelope
		if err := strictUnmarshal(signed(t, other, priv), &env); err != nil {
			t.Fatal(err)
		}
		sigOfOther = *env.Signature
	}
	resign := func(edit func(*envelope)) []byte {
		var env envelope
		if err := strictUnmarshal(good, &env); err != nil {
			t.Fatal(err)
		}
		edit(&env)
		out, err := json.MarshalIndent(env, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tampered := resign(func(env *envelope) {
		var fp filePlan
		if err := strictUnmarshal(env.Plan, &fp); err != nil {
			t.Fatal(err)
		}
		fp.Steps[0].Reason = "nothing to see here"
		canon, _ := json.Marshal(fp)
		env.Plan, env.Checksum = canon, checksum(canon)
	})

	tests := map[string]struct {
		data []byte
		pub  ed25519.PublicKey
		want error
	}{
		"unsigned":          {data: written(t, p), pub: pub, want: ErrSignature},
		"wrong key":         {data: good, pub: otherPub, want: ErrSignature},
		"signed by other":   {data: signed(t, p, otherPriv), pub: pub, want: ErrSignature},
		"payload re-summed": {data: tampered, pub: pub, want: ErrSignature},
		"signature swapped": {data: resign(func(env *envelope) { env.Signature = &sigOfOther }), pub: pub, want: ErrSignature},
		"algorithm":         {data: resign(func(env *envelope) { env.Signature.Algorithm = "rsa" }), pub: pub, want: ErrSignature},
		"key id forged": {data: resign(func(env *envelope) {
			env.Signature = &fileSignature{Algorithm: "ed25519", KeyID: KeyID(pub), Value: sigOfOther.Value}
		}), pub: pub, want: ErrSignature},
		"malformed value": {data: resign(func(env *envelope) { env.Signature.Value = "!!" }), pub: pub, want: ErrSignature},
		"bad checksum":    {data: resign(func(env *envelope) { env.Checksum = "sha256:00" }), pub: pub, want: ErrCorrupted},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadVerified(bytes.NewReader(tc.data), tc.pub)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadVerified = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadVerifiedRefusesEveryFlippedByte(t *testing.T) {
	pub, priv := newKey(t)
	good := signed(t, plantest.Sample(), priv)
	p0, err := ReadVerified(bytes.NewReader(good), pub)
	if err != nil {
		t.Fatal(err)
	}
	sigAt := bytes.Index(good, []byte(`"signature"`))
	if sigAt < 0 {
		t.Fatal("no signature in a signed plan")
	}
	accepted := 0
	for i := 0; i < len(good); i++ {
		if i < sigAt && i%5 != 0 {
			continue // the payload is covered by TestReadRefusesEveryFlippedByte too; sample it
		}
		b := bytes.Clone(good)
		b[i] ^= 0x01
		p, err := ReadVerified(bytes.NewReader(b), pub)
		if err != nil {
			continue
		}
		if i > sigAt && !isSpace(good[i]) && !isSpace(b[i]) {
			t.Fatalf("flipping byte %d (%q) of the signature was accepted", i, good[i])
		}
		if diff := cmp.Diff(p0, p); diff != "" {
			t.Fatalf("flipping byte %d (%q) changed the plan and passed verification:\n%s", i, good[i], diff)
		}
		accepted++
	}
	t.Logf("%d whitespace flips accepted", accepted)
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

func TestSignedFileHelpers(t *testing.T) {
	pub, priv := newKey(t)
	path := filepath.Join(t.TempDir(), "x.plan")
	if err := WriteFileSigned(path, plantest.Sample(), priv); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFileVerified(path, pub); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, plantest.Sample()); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFileVerified(path, pub)
	if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("unsigned file: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	pub, priv := newKey(t)
	dir := t.TempDir()
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}))
	privFile, pubFile := filepath.Join(dir, "sign.pem"), filepath.Join(dir, "verify.pem")
	if err := os.WriteFile(privFile, []byte(privPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, []byte(pubPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"base64 64 bytes": base64.StdEncoding.EncodeToString(priv),
		"base64 seed":     base64.StdEncoding.EncodeToString(priv.Seed()),
		"pem":             privPEM,
		"pem file":        privFile,
	} {
		got, err := ParsePrivateKey(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !got.Equal(priv) {
			t.Errorf("%s: another key", name)
		}
	}
	for name, s := range map[string]string{
		"base64":   base64.StdEncoding.EncodeToString(pub),
		"pem":      pubPEM,
		"pem file": pubFile,
	} {
		got, err := ParsePublicKey(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !got.Equal(pub) {
			t.Errorf("%s: another key", name)
		}
	}
	// Wrong forms are refused without echoing what was given.
	secret := base64.StdEncoding.EncodeToString(priv[:40])
	for name, s := range map[string]string{"short base64": secret, "public as private": pubPEM, "empty": " "} {
		_, err := ParsePrivateKey(s)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error echoes the key: %v", name, err)
		}
	}
	if _, err := ParsePublicKey(privPEM); err == nil {
		t.Error("a private key PEM was accepted as a public key")
	}
}
