// Package s3 is the object-store adapter for MinIO and other S3-compatible
// stores, built on github.com/minio/minio-go/v7.
//
// It streams objects in both directions (nothing holds a whole object in
// memory) and translates the store's errors into protostar domain errors:
// a missing key or bucket is ENOTFOUND (errors.Is(err, protostar.ErrNotFound)),
// an unreachable or failing store is EUNAVAILABLE
// (errors.Is(err, protostar.ErrUnavailable)), and rejected credentials are
// EINVALID, because they are a misconfiguration that retrying cannot fix.
package s3

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/notification"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/protostar/protostar"
)

// Client tuning. minio-go's defaults (10 attempts, 30 s dial timeout, 1 min
// response header timeout) make an unreachable store look like a hang for
// minutes; these make it fail within a few seconds so callers can degrade
// (and retry at their own level) instead.
const (
	// maxAttempts is minio-go's Options.MaxRetries, which counts attempts:
	// with 3, the backoff between them adds at most 0.2 s + 0.4 s.
	maxAttempts = 3
	// dialTimeout bounds each TCP connect; an endpoint that drops packets
	// fails within maxAttempts × dialTimeout (+ backoff) ≈ 7 s. A refused
	// connection fails at once.
	dialTimeout = 2 * time.Second
	// responseHeaderTimeout bounds the wait for response headers after a
	// request (including its body) has been sent, so a hung server does
	// not hold a call forever. It does not limit how long a body streams.
	responseHeaderTimeout = 30 * time.Second
	// defaultRegion is MinIO's default. Setting a region up front spares
	// minio-go a GetBucketLocation round trip before a bucket's first use.
	defaultRegion = "us-east-1"
)

// Config locates the store and the one bucket the Store works in. The field
// names mirror the PROTOSTAR_S3_* environment variables.
type Config struct {
	Endpoint  string // host:port, without a scheme (PROTOSTAR_S3_ENDPOINT)
	AccessKey string // PROTOSTAR_S3_ACCESS_KEY
	SecretKey string // PROTOSTAR_S3_SECRET_KEY
	Bucket    string // PROTOSTAR_S3_BUCKET
	Region    string // PROTOSTAR_S3_REGION; empty means us-east-1
	// UseTLS selects https (PROTOSTAR_S3_USE_TLS).
	UseTLS bool
	// CreateBucket lets EnsureBucket create a missing bucket
	// (PROTOSTAR_S3_CREATE_BUCKET).
	CreateBucket bool
}

// validate reports every problem in cfg at once, each naming its variable.
func (cfg Config) validate() error {
	var errs []error
	if cfg.Endpoint == "" {
		errs = append(errs, errors.New("PROTOSTAR_S3_ENDPOINT is empty"))
	} else if strings.Contains(cfg.Endpoint, "://") || strings.Contains(cfg.Endpoint, "/") {
		errs = append(errs, fmt.Errorf("PROTOSTAR_S3_ENDPOINT %q must be host:port without a scheme or path; use PROTOSTAR_S3_USE_TLS for https", cfg.Endpoint))
	}
	if cfg.AccessKey == "" {
		errs = append(errs, errors.New("PROTOSTAR_S3_ACCESS_KEY is empty"))
	}
	if cfg.SecretKey == "" {
		errs = append(errs, errors.New("PROTOSTAR_S3_SECRET_KEY is empty"))
	}
	if cfg.Bucket == "" {
		errs = append(errs, errors.New("PROTOSTAR_S3_BUCKET is empty"))
	} else if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("PROTOSTAR_S3_BUCKET %q is not a valid bucket name: %w", cfg.Bucket, err))
	}
	return errors.Join(errs...)
}

// Store reads and writes objects in one bucket. It is safe for concurrent
// use. Every method's error is either a *protostar.Error with a code (see
// the package comment) or a context error, wrapped with the operation and
// the key.
type Store struct {
	client *minio.Client
	bucket string
	region string
	create bool
	logger *slog.Logger
	ready  atomic.Bool // the bucket is known to exist
}

// New validates cfg and builds a Store. It does no network I/O: an
// unreachable store surfaces on the first call (use Ping or EnsureBucket at
// start-up).
func New(logger *slog.Logger, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("s3 config: %w", err)
	}
	region := cmp.Or(cfg.Region, defaultRegion)

	transport, err := minio.DefaultTransport(cfg.UseTLS)
	if err != nil {
		return nil, fmt.Errorf("s3 transport: %w", err)
	}
	transport.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = responseHeaderTimeout

	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.UseTLS,
		Transport:  transport,
		Region:     region,
		MaxRetries: maxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 config: PROTOSTAR_S3_ENDPOINT %q: %w", cfg.Endpoint, err)
	}
	return &Store{
		client: client,
		bucket: cfg.Bucket,
		region: region,
		create: cfg.CreateBucket,
		logger: logger.With("component", "s3", "bucket", cfg.Bucket),
	}, nil
}

// EnsureBucket makes sure the bucket exists. A missing bucket is created
// when Config.CreateBucket is set (a concurrent creation by another replica
// is fine); otherwise it returns EINVALID naming the bucket. It is
// idempotent.
func (s *Store) EnsureBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check bucket %q: %w", s.bucket, translate(ctx, err, ""))
	}
	if exists {
		s.ready.Store(true)
		return nil
	}
	if !s.create {
		return protostar.Errorf(protostar.EINVALID,
			"bucket %q does not exist and PROTOSTAR_S3_CREATE_BUCKET is false", s.bucket)
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if s3Code(err) == minio.BucketAlreadyOwnedByYou {
		s.logger.Debug("bucket created concurrently by another caller")
		return nil
	}
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", s.bucket, translate(ctx, err, ""))
	}
	s.logger.Info("created bucket")
	s.ready.Store(true)
	return nil
}

// Ping is a cheap readiness probe (one HEAD on the bucket). It returns
// EUNAVAILABLE when the store cannot be reached or fails, and EINVALID when
// the bucket is missing or the credentials are rejected.
func (s *Store) Ping(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("ping s3: %w", translate(ctx, err, ""))
	}
	if !exists {
		return fmt.Errorf("ping s3: %w", protostar.Errorf(protostar.EINVALID, "bucket %q does not exist", s.bucket))
	}
	return nil
}

// Watch makes the bucket send its object created and removed events to
// the notification target arn (MinIO's arn:minio:sqs::<ID>:webhook, which
// the server's MINIO_NOTIFY_WEBHOOK_*_<ID> settings define), keeping any
// other notification the bucket has. It is idempotent.
func (s *Store) Watch(ctx context.Context, arn string) error {
	target, err := notification.NewArnFromString(arn)
	if err != nil {
		return protostar.Errorf(protostar.EINVALID, "notification target %q is not an ARN: %v", arn, err)
	}
	cfg, err := s.client.GetBucketNotification(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("read bucket %q notifications: %w", s.bucket, translate(ctx, err, ""))
	}
	events := []notification.EventType{notification.ObjectCreatedAll, notification.ObjectRemovedAll}
	for _, q := range cfg.QueueConfigs {
		if q.Queue == arn && q.Equal(events, "", "") {
			s.logger.Info("bucket notifications sent to target", "arn", arn, "changed", false)
			return nil
		}
	}
	cfg.RemoveQueueByArn(target)
	qc := notification.NewConfig(target)
	qc.AddEvents(events...)
	cfg.AddQueue(qc)
	if err := s.client.SetBucketNotification(ctx, s.bucket, cfg); err != nil {
		return fmt.Errorf("set bucket %q notifications to %s: %w", s.bucket, arn, translate(ctx, err, ""))
	}
	s.logger.Info("bucket notifications sent to target", "arn", arn, "changed", true)
	return nil
}
