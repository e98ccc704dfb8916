package backupstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Errors returned by stores.
var (
	ErrNotFound    = errors.New("backup: snapshot not found")
	ErrDestination = errors.New("backup: bad destination")
	ErrMetaVersion = errors.New("backup: metadata from another format version")
)

// MetaVersion is the version of the sidecar format this package writes and
// reads. A sidecar of another version is refused.
const MetaVersion = 1

// Meta is what a backup run records beside each snapshot object, in a
// sidecar named ID.json. A snapshot without its sidecar is not listed: the
// sidecar is written last, so its presence marks a complete backup.
type Meta struct {
	Version  int       `json:"format_version"`
	ID       string    `json:"id"`
	Cluster  string    `json:"cluster"`
	Member   string    `json:"member,omitempty"` // endpoint the snapshot came from
	Time     time.Time `json:"time"`
	Revision int64     `json:"revision"`
	KeyCount int64     `json:"key_count"`
	// SHA256 is the hex sha256 of the plaintext snapshot, trailing hash
	// included (as sha256sum prints it).
	SHA256 string `json:"sha256"`
	// KVHash is etcd's HashKV of the source member at Revision; 0 when it
	// could not be read (the revision was compacted away meanwhile).
	KVHash       uint32  `json:"kv_hash,omitempty"`
	Size         int64   `json:"size"`        // plaintext bytes
	StoredSize   int64   `json:"stored_size"` // bytes of the stored object
	Encrypted    bool    `json:"encrypted"`
	Recipient    string  `json:"recipient,omitempty"` // age public key (not a secret)
	EtcdVersion  string  `json:"etcd_version,omitempty"`
	Object       string  `json:"object"` // object name relative to the destination
	DurationSecs float64 `json:"duration_seconds"`
}

// EncodeMeta serializes m with the current format version.
func EncodeMeta(m Meta) ([]byte, error) {
	m.Version = MetaVersion
	return json.MarshalIndent(m, "", "  ")
}

// DecodeMeta parses a sidecar, refusing unknown fields and other versions.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("backup: reading metadata: %w", err)
	}
	if m.Version != MetaVersion {
		return m, fmt.Errorf("%w: %d (want %d)", ErrMetaVersion, m.Version, MetaVersion)
	}
	if !ValidID(m.ID) {
		return m, fmt.Errorf("backup: reading metadata: bad id %q", m.ID)
	}
	return m, nil
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id can name a snapshot (no slashes, no "..").
func ValidID(id string) bool { return idRE.MatchString(id) && !strings.Contains(id, "..") }

// Store is a backup destination. Names are relative to the destination's
// directory or prefix, without slashes.
type Store interface {
	// Put stores r under name, atomically: on any error nothing is
	// visible under name. progress, when non-nil, is called with the bytes
	// sent so far. It returns the bytes stored.
	Put(ctx context.Context, name string, r io.Reader, progress func(int64)) (int64, error)
	// Get opens name; ErrNotFound when there is none.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes name; deleting a missing name is not an error.
	Delete(ctx context.Context, name string) error
	// Names lists the names at the destination.
	Names(ctx context.Context) ([]string, error)
	// String is the destination URL, with no credentials.
	String() string
}

// Options configures Open.
type Options struct {
	// S3 endpoint ("http://host:port", "https://host" or "host:port",
	// https assumed); "" means AWS (s3.amazonaws.com).
	Endpoint  string
	Region    string
	PathStyle bool
	// Getenv reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
	// AWS_SESSION_TOKEN); nil means no credentials.
	Getenv func(string) string
	// PartSize is the S3 multipart part size; 0 means 16 MiB.
	PartSize uint64
	// MaxRetries bounds S3 request retries; 0 means 3.
	MaxRetries int
}

// Open returns the store for a destination URL: file:///abs/dir or
// s3://bucket/prefix.
func Open(dest string, opts Options) (Store, error) {
	u, err := url.Parse(dest)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrDestination, dest, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("%w: %q: file:// URLs name a local directory (file:///dir)", ErrDestination, dest)
		}
		if !path.IsAbs(u.Path) {
			return nil, fmt.Errorf("%w: %q: the directory must be absolute", ErrDestination, dest)
		}
		return NewFileStore(u.Path), nil
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("%w: %q: no bucket", ErrDestination, dest)
		}
		return NewS3Store(u.Host, strings.Trim(u.Path, "/"), opts)
	default:
		return nil, fmt.Errorf("%w: %q: the scheme must be file:// or s3://", ErrDestination, dest)
	}
}

// SidecarName is the metadata sidecar's name for a snapshot ID.
func SidecarName(id string) string { return id + ".json" }

// List reads every sidecar at s and returns the backups, oldest first.
// Sidecars that cannot be read are returned as errors beside the list.
func List(ctx context.Context, s Store) ([]Meta, []error, error) {
	names, err := s.Names(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []Meta
	var bad []error
	for _, n := range names {
		id, ok := strings.CutSuffix(n, ".json")
		if !ok || !ValidID(id) {
			continue
		}
		m, err := ReadMeta(ctx, s, id)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, bad, nil
}

// ReadMeta reads the sidecar of snapshot id.
func ReadMeta(ctx context.Context, s Store, id string) (Meta, error) {
	rc, err := s.Get(ctx, SidecarName(id))
	if err != nil {
		return Meta{}, fmt.Errorf("backup: snapshot %s: %w", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return Meta{}, fmt.Errorf("backup: snapshot %s: reading metadata: %w", id, err)
	}
	m, err := DecodeMeta(b)
	if err != nil {
		return m, fmt.Errorf("backup: snapshot %s: %w", id, err)
	}
	if m.ID != id {
		return m, fmt.Errorf("backup: snapshot %s: metadata names %q", id, m.ID)
	}
	return m, nil
}

// countingReader reports progress as it is read.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 && c.progress != nil {
		c.progress(c.n)
	}
	return n, err
}
