package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildProtostar builds the protostar binary into dir and returns its
// path. It works from any directory inside the module.
func BuildProtostar(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "protostar")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/protostar/protostar/cmd/protostar")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build protostar (from inside the module?): %w\n%s", err, out)
	}
	return bin, nil
}

// ProtostarEnv is the environment of a protostar process on a slice of the
// stack: the database, Redis and bucket (created by the process), with
// nothing inherited but PATH and HOME. Callers append their own settings;
// a later value of a variable wins.
func ProtostarEnv(dbURL, redisURL string, s3 S3) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"PROTOSTAR_DATABASE_URL=" + dbURL,
		"PROTOSTAR_REDIS_URL=" + redisURL,
		"PROTOSTAR_S3_ENDPOINT=" + s3.Endpoint,
		"PROTOSTAR_S3_ACCESS_KEY=" + s3.AccessKey,
		"PROTOSTAR_S3_SECRET_KEY=" + s3.SecretKey,
		"PROTOSTAR_S3_BUCKET=" + s3.Bucket,
		"PROTOSTAR_S3_CREATE_BUCKET=true",
		"OTEL_TRACES_EXPORTER=none",
	}
}
