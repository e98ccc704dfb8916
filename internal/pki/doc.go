// Package pki issues X.509 certificates with crypto/x509 for the lab and for
// tests: a CA, and server, peer and client leaves with the SANs etcd needs.
// It never shells out to openssl. Keys are ECDSA P-256, PEM-encoded.
package pki
