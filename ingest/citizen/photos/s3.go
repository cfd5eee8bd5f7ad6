package photos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config names an S3-compatible bucket.
type S3Config struct {
	// Endpoint is the server's address, such as http://10.0.0.9:8333 or https://s3.example.vn.
	Endpoint string
	Bucket   string
	// Prefix is put before every object's name (such as "ioc/photos/").
	Prefix               string
	AccessKey, SecretKey string
	Region               string
}

// S3 keeps photos as objects <prefix>ab/abcd….jpg of a bucket.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

// NewS3 connects to the bucket (it asks nothing of the server yet).
func NewS3(cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("photo store: endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("photo store: no bucket")
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https", Region: cfg.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return nil, fmt.Errorf("photo store: %w", err)
	}
	return &S3{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

func (s *S3) name(hash string) string { return s.prefix + hash[:2] + "/" + hash + ".jpg" }

// EnsureBucket makes the bucket when it does not exist.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("photo store: bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("photo store: make bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put uploads the photo (S3 makes an object visible only whole); one already there is left.
func (s *S3) Put(ctx context.Context, hash string, data []byte) error {
	if err := checkHash(hash); err != nil {
		return err
	}
	if _, err := s.c.StatObject(ctx, s.bucket, s.name(hash), minio.StatObjectOptions{}); err == nil {
		return nil
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.name(hash), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "image/jpeg", SendContentMd5: true})
	if err != nil {
		return fmt.Errorf("photo store: put %s: %w", hash, err)
	}
	return nil
}

// Get opens a kept photo.
func (s *S3) Get(ctx context.Context, hash string) (io.ReadCloser, int64, error) {
	if err := checkHash(hash); err != nil {
		return nil, 0, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.name(hash), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("photo store: get %s: %w", hash, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusNotFound || strings.Contains(r.Code, "NoSuchKey") {
			return nil, 0, ErrNotFound
		}
		return nil, 0, fmt.Errorf("photo store: get %s: %w", hash, err)
	}
	return obj, st.Size, nil
}
