// Package backup runs etcdform's backup job and its restore drill. Run
// snapshots one member through the Maintenance API, checks the trailing
// sha256, reads the snapshot's revision and key count, encrypts it with age
// to a public key (the plaintext never reaches the destination), uploads it
// through a providers/backupstore Store with a metadata sidecar, applies
// retention and writes a Prometheus textfile. Verify fetches a snapshot,
// decrypts it, restores it with etcdutl into a throwaway etcd on 127.0.0.1
// and checks it against what Run recorded.
package backup
