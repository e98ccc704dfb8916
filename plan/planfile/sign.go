package planfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/etcdform/etcdform/plan"
)

// A signed plan carries a detached ed25519 signature in its envelope:
//
//	"signature": {"algorithm": "ed25519", "key_id": "sha256:…", "value": "<base64>"}
//
// The signature covers signedMessage: a fixed context string, the format
// version and the canonical payload (the bytes the checksum covers), so it
// vouches for exactly what Read returns. key_id is the sha256 of the public
// key, there to name the key in errors; it is not trusted.

// ErrSignature is returned (wrapped) by ReadVerified for a plan that is not
// signed, or not signed by the expected key, or whose signature does not
// match its content.
var ErrSignature = errors.New("planfile: plan file signature check failed")

const signatureAlgorithm = "ed25519"

type fileSignature struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	Value     string `json:"value"`
}

// b64 is strict so that a changed padding bit is an invalid signature, not
// an equal one.
var b64 = base64.StdEncoding.Strict()

func signedMessage(canon []byte) []byte {
	msg := []byte("etcdform plan signature\x00format " + strconv.Itoa(FormatVersion) + "\x00")
	return append(msg, canon...)
}

// KeyID names a public key: "sha256:" and the hex sha256 of its 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// WriteSigned is Write with a signature by key over the payload.
func WriteSigned(w io.Writer, p *plan.Plan, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("planfile: the signing key is not an ed25519 private key")
	}
	payload, err := toFile(p)
	if err != nil {
		return err
	}
	canon, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	env := envelope{FormatVersion: FormatVersion, Checksum: checksum(canon), Plan: canon, Signature: &fileSignature{
		Algorithm: signatureAlgorithm,
		KeyID:     KeyID(pub),
		Value:     b64.EncodeToString(ed25519.Sign(key, signedMessage(canon))),
	}}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	out = append(out, '\n')
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("planfile: writing: %w", err)
	}
	return nil
}

// WriteFileSigned is WriteFile with a signature by key.
func WriteFileSigned(path string, p *plan.Plan, key ed25519.PrivateKey) error {
	var buf bytes.Buffer
	if err := WriteSigned(&buf, p, key); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

// ReadVerified is Read (with all of Read's checks and errors) that also
// requires a valid signature by pub. It returns an error wrapping
// ErrSignature when the plan is unsigned, signed by another key, or its
// signature does not match its content.
func ReadVerified(r io.Reader, pub ed25519.PublicKey) (*plan.Plan, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("planfile: the verification key is not an ed25519 public key")
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("planfile: reading: %w", err)
	}
	p, err := Read(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	// Read has checked the envelope and the payload strictly; what is left
	// is the signature over the canonical payload.
	var env envelope
	var payload filePlan
	if err := strictUnmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	if err := strictUnmarshal(env.Plan, &payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	canon, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	s := env.Signature
	switch {
	case s == nil:
		return nil, fmt.Errorf("%w: the plan is not signed (was ETCDFORM_PLAN_SIGNING_KEY set when it was planned?)", ErrSignature)
	case s.Algorithm != signatureAlgorithm:
		return nil, fmt.Errorf("%w: unknown signature algorithm %q", ErrSignature, s.Algorithm)
	case s.KeyID != KeyID(pub):
		return nil, fmt.Errorf("%w: signed by key %s, expected key %s", ErrSignature, s.KeyID, KeyID(pub))
	}
	sig, err := b64.DecodeString(s.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: the signature is malformed", ErrSignature)
	}
	if !ed25519.Verify(pub, signedMessage(canon), sig) {
		return nil, fmt.Errorf("%w: the signature does not match the plan (modified after signing, or signed by another key)", ErrSignature)
	}
	return p, nil
}

// ReadFileVerified is ReadFile with ReadVerified's signature check.
func ReadFileVerified(path string, pub ed25519.PublicKey) (*plan.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("planfile: %w", err)
	}
	defer f.Close()
	p, err := ReadVerified(f, pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePrivateKey reads an ed25519 private key given as, in this order:
//   - PEM text ("-----BEGIN PRIVATE KEY-----", PKCS#8, as written by
//     `openssl genpkey -algorithm ed25519`);
//   - standard base64 of the 64-byte key (seed and public key, Go's
//     ed25519.PrivateKey) or of the 32-byte seed;
//   - the path of a file holding PEM PKCS#8 (a GitLab "File" variable).
//
// Errors never include the key material.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	data, err := keyBytes(s, 64, 32)
	if err != nil {
		return nil, err
	}
	switch {
	case data.pem != nil:
		if data.pem.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("planfile: signing key: PEM block %q, want \"PRIVATE KEY\" (PKCS#8)", data.pem.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(data.pem.Bytes)
		if err != nil {
			return nil, errors.New("planfile: signing key: not a PKCS#8 private key")
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("planfile: signing key: a %T, want ed25519", k)
		}
		return ek, nil
	case len(data.raw) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(data.raw), nil
	default:
		return ed25519.PrivateKey(data.raw), nil
	}
}

// ParsePublicKey reads an ed25519 public key given as PEM text ("-----BEGIN
// PUBLIC KEY-----", PKIX, as written by `openssl pkey -pubout`), standard
// base64 of the 32-byte key, or the path of a PEM file.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	data, err := keyBytes(s, 32)
	if err != nil {
		return nil, err
	}
	if data.pem == nil {
		return ed25519.PublicKey(data.raw), nil
	}
	if data.pem.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("planfile: verification key: PEM block %q, want \"PUBLIC KEY\"", data.pem.Type)
	}
	k, err := x509.ParsePKIXPublicKey(data.pem.Bytes)
	if err != nil {
		return nil, errors.New("planfile: verification key: not a PKIX public key")
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("planfile: verification key: a %T, want ed25519", k)
	}
	return ek, nil
}

type keyData struct {
	pem *pem.Block
	raw []byte
}

// keyBytes decodes inline PEM, base64 of one of sizes, or a PEM file.
func keyBytes(s string, sizes ...int) (keyData, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return keyData{}, errors.New("planfile: the key is empty")
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		b, _ := pem.Decode([]byte(s))
		if b == nil {
			return keyData{}, errors.New("planfile: the key is not valid PEM")
		}
		return keyData{pem: b}, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
		for _, n := range sizes {
			if len(raw) == n {
				return keyData{raw: raw}, nil
			}
		}
	}
	data, err := os.ReadFile(s)
	if err != nil {
		// The error names no path: s may be key material in a wrong form.
		var pe *fs.PathError
		if errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) {
			return keyData{}, fmt.Errorf("planfile: reading the key file: %w", pe.Err)
		}
		return keyData{}, fmt.Errorf("planfile: the key is neither PEM, nor base64 of %v bytes, nor the path of a file", sizes)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return keyData{}, errors.New("planfile: the key file holds no PEM block")
	}
	return keyData{pem: b}, nil
}
