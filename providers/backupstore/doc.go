// Package backupstore is etcdform's provider for backup destinations: a Store
// puts, lists, fetches and deletes snapshot objects and their metadata
// sidecars at a file:// directory or an s3:// bucket and prefix (minio-go).
// It owns the sidecar's serialized format (Meta, versioned). It knows
// nothing about etcd or encryption; internal/backup runs the job.
package backupstore
