// Package planfile owns the on-disk format of a saved plan: versioned JSON
// with a sha256 checksum over its canonical payload. It is the only package
// that knows the serialized types; everything else reads and writes
// *plan.Plan through Write and Read. WriteSigned and ReadVerified add and
// require a detached ed25519 signature over the same payload (sign.go).
package planfile
