package backupstore

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Store keeps backups under a prefix of an S3 bucket, through minio-go.
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN) as read by Options.Getenv.
type S3Store struct {
	cli      *minio.Client
	bucket   string
	prefix   string // "" or ending in "/"
	partSize uint64
}

var _ Store = (*S3Store)(nil)

// NewS3Store returns a store for bucket/prefix.
func NewS3Store(bucket, prefix string, opts Options) (*S3Store, error) {
	host, secure := "s3.amazonaws.com", true
	if opts.Endpoint != "" {
		ep := opts.Endpoint
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep
		}
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("%w: s3 endpoint %q: want scheme://host[:port]", ErrDestination, opts.Endpoint)
		}
		switch u.Scheme {
		case "http":
			secure = false
		case "https":
		default:
			return nil, fmt.Errorf("%w: s3 endpoint %q: scheme must be http or https", ErrDestination, opts.Endpoint)
		}
		host = u.Host
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	creds := credentials.NewStaticV4(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))
	lookup := minio.BucketLookupAuto
	if opts.PathStyle {
		lookup = minio.BucketLookupPath
	}
	retries := opts.MaxRetries
	if retries == 0 {
		retries = 3
	}
	cli, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: opts.Region, BucketLookup: lookup, MaxRetries: retries})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDestination, err)
	}
	if prefix != "" {
		prefix += "/"
	}
	ps := opts.PartSize
	if ps == 0 {
		ps = 16 << 20
	}
	return &S3Store{cli: cli, bucket: bucket, prefix: prefix, partSize: ps}, nil
}

func (s *S3Store) String() string {
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// Put uploads r. S3 makes an object visible only when its upload
// completes; a failed multipart upload is aborted by minio-go.
func (s *S3Store) Put(ctx context.Context, name string, r io.Reader, progress func(int64)) (int64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	info, err := s.cli.PutObject(ctx, s.bucket, s.prefix+name, &countingReader{r: r, progress: progress}, -1,
		minio.PutObjectOptions{PartSize: s.partSize, ContentType: "application/octet-stream"})
	if err != nil {
		return 0, fmt.Errorf("backup: uploading %s/%s: %w", s, name, err)
	}
	return info.Size, nil
}

func (s *S3Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	// Stat first: GetObject is lazy and would report a missing object
	// only on the first read.
	if _, err := s.cli.StatObject(ctx, s.bucket, s.prefix+name, minio.StatObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).StatusCode == 404 {
			return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, s, name)
		}
		return nil, fmt.Errorf("backup: %s/%s: %w", s, name, err)
	}
	o, err := s.cli.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("backup: %s/%s: %w", s, name, err)
	}
	return o, nil
}

func (s *S3Store) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := s.cli.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).StatusCode == 404 {
			return nil
		}
		return fmt.Errorf("backup: deleting %s/%s: %w", s, name, err)
	}
	return nil
}

func (s *S3Store) Names(ctx context.Context) ([]string, error) {
	var out []string
	for o := range s.cli.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix}) {
		if o.Err != nil {
			return nil, fmt.Errorf("backup: listing %s: %w", s, o.Err)
		}
		n := strings.TrimPrefix(o.Key, s.prefix)
		if n != "" && !strings.Contains(n, "/") {
			out = append(out, n)
		}
	}
	return out, nil
}
