package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/minio/minio-go/v7"

	"github.com/protostar/protostar"
)

// translate turns a minio-go or transport error into a protostar domain
// error that keeps err as its cause; key names the object, if any. Errors
// caused by the caller's own context are returned as they are, and so are
// errors it does not recognise. Callers wrap the result with the operation.
func translate(ctx context.Context, err error, key string) error {
	if err == nil {
		return nil
	}
	// A cancelled or expired ctx is the caller's decision, not a store
	// failure. (errors.Is(err, context.DeadlineExceeded) alone would also
	// match net's own dial and I/O timeouts, which are store failures.)
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return err
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch {
		case resp.Code == minio.NoSuchBucket:
			// A missing bucket is an operator's problem that a retry after
			// the fix can cure; the object itself may well exist then.
			return &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "object store bucket does not exist", Err: err}
		case resp.Code == minio.NoSuchKey || resp.Code == minio.NoSuchVersion:
			return &protostar.Error{Code: protostar.ENOTFOUND, Message: fmt.Sprintf("object %q not found", key), Err: err}
		case resp.Code == minio.AccessDenied || resp.Code == minio.InvalidAccessKeyID ||
			resp.Code == minio.SignatureDoesNotMatch || resp.StatusCode == http.StatusForbidden:
			// Our credentials or the bucket policy are wrong: an operator
			// must fix the configuration, and retrying will not help.
			return &protostar.Error{Code: protostar.EINVALID, Message: "object store denied access (check the S3 credentials and bucket policy)", Err: err}
		case resp.Code == minio.XMinioInvalidObjectName || resp.Code == "KeyTooLongError":
			return &protostar.Error{Code: protostar.EINVALID, Message: fmt.Sprintf("invalid object key %q", key), Err: err}
		case resp.Code == "EntityTooLarge":
			return &protostar.Error{Code: protostar.ETOOLARGE, Message: "object too large for the object store", Err: err}
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
			resp.Code == "SlowDown" || resp.Code == "RequestTimeout" || resp.Code == "XMinioServerNotInitialized":
			return unavailable(err)
		}
		return err
	}
	var netErr net.Error // includes *url.Error from the HTTP client
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return unavailable(err)
	}
	return err
}

func unavailable(err error) error {
	return &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "object store unavailable", Err: err}
}
