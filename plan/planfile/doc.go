// Package planfile owns the on-disk format of a saved plan: versioned JSON
// with a sha256 checksum over its canonical payload. It is the only package
// that knows the serialized types; everything else reads and writes
// *plan.Plan through Write and Read.
package planfile
