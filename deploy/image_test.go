package deploy

import (
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

// maxImageBytes is the most the image's files may add up to.
const maxImageBytes = 60_000_000

// imageConfig is the part of the OCI image configuration the test reads.
type imageConfig struct {
	User       string            `json:"User"`
	Entrypoint []string          `json:"Entrypoint"`
	Cmd        []string          `json:"Cmd"`
	Env        []string          `json:"Env"`
	Labels     map[string]string `json:"Labels"`
}

// builtImage is the image under test, its root file system mounted.
type builtImage struct {
	ref    string
	root   string // the mounted root file system
	config imageConfig
	chroot string // chroot(8), to run the image's binary from its own files
}

// setupImage mounts the root file system of PROTOSTAR_IMAGE (built by
// make image) for the test, read from buildah's local storage.
func setupImage(t *testing.T) builtImage {
	t.Helper()
	ref := tool(t, "PROTOSTAR_IMAGE", "the image to test: make image, then PROTOSTAR_IMAGE=$(scripts/image.sh name)")
	if os.Geteuid() != 0 {
		t.Fatal("the image test mounts the image and chroots into it: run it as root")
	}
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		t.Fatal(err)
	}
	img := builtImage{ref: ref, chroot: chroot}
	var inspect struct {
		OCIv1 struct {
			Config imageConfig `json:"config"`
		} `json:"OCIv1"`
	}
	if err := json.Unmarshal(buildah(t, "inspect", "--type", "image", ref), &inspect); err != nil {
		t.Fatalf("buildah inspect %s: %v", ref, err)
	}
	img.config = inspect.OCIv1.Config
	ctr := strings.TrimSpace(string(buildah(t, "from", "--pull-never", "--name", testenv.Name("protostar-test-"), ref)))
	t.Cleanup(func() { buildah(t, "rm", ctr) })
	img.root = strings.TrimSpace(string(buildah(t, "mount", ctr)))
	return img
}

// buildah runs buildah (with STORAGE_DRIVER, as scripts/image.sh does) and
// returns its standard output.
func buildah(t *testing.T, args ...string) []byte {
	t.Helper()
	if d := os.Getenv("STORAGE_DRIVER"); d != "" {
		args = append([]string{"--storage-driver", d}, args...)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("buildah", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// run runs the image's protostar from the image's files as the image's
// user, with exactly env (nothing inherited).
func (img builtImage) run(ctx context.Context, env []string, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := img.command(ctx, args...)
	cmd.Env = append([]string{}, env...) // never nil: nil would inherit ours
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func (img builtImage) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, img.chroot, img.chrootArgs(args...)...)
}

func (img builtImage) chrootArgs(args ...string) []string {
	return append([]string{"--userspec=" + img.config.User, img.root, img.config.Entrypoint[0]}, args...)
}

// TestImageConfig: a non-root numeric user, protostar as the entrypoint
// and serve as the default command, and the OCI labels.
func TestImageConfig(t *testing.T) {
	c := setupImage(t).config
	if c.User != imageUser {
		t.Errorf("user %q, want %q (numeric, not root)", c.User, imageUser)
	}
	if !slices.Equal(c.Entrypoint, []string{entrypoint}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q, cmd %q; want [%s] and [serve]", c.Entrypoint, c.Cmd, entrypoint)
	}
	for _, l := range []string{"source", "version", "revision", "created", "title"} {
		if c.Labels["org.opencontainers.image."+l] == "" {
			t.Errorf("label org.opencontainers.image.%s is missing", l)
		}
	}
	if rev := c.Labels["org.opencontainers.image.revision"]; !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(rev) {
		t.Errorf("revision label %q is not a commit hash", rev)
	}
	if !slices.Contains(c.Env, "PROTOSTAR_HTTP_ADDR=0.0.0.0:8080") {
		t.Errorf("env %q: the API must listen beyond the container's loopback", c.Env)
	}
}

// TestImageFiles: under 60 MB, a static binary, CA certificates, tzdata,
// a user database naming the user, and a world-writable sticky /tmp.
func TestImageFiles(t *testing.T) {
	img := setupImage(t)
	var size int64
	err := filepath.WalkDir(img.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		size += info.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image files: %.1f MB", float64(size)/1e6)
	if size >= maxImageBytes {
		t.Errorf("the image's files add up to %d bytes, want under %d", size, maxImageBytes)
	}

	bin, err := elf.Open(filepath.Join(img.root, entrypoint))
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	libs, _ := bin.ImportedLibraries()
	if len(libs) > 0 || slices.ContainsFunc(bin.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Errorf("%s is dynamically linked (%v): a FROM scratch image has no libc", entrypoint, libs)
	}

	read := func(path string) []byte {
		b, err := os.ReadFile(filepath.Join(img.root, path))
		if err != nil {
			t.Error(err)
		}
		return b
	}
	if !x509.NewCertPool().AppendCertsFromPEM(read("/etc/ssl/certs/ca-certificates.crt")) {
		t.Error("no CA certificates in /etc/ssl/certs/ca-certificates.crt: TLS to S3, Postgres or OpenAI would fail")
	}
	if _, err := time.LoadLocationFromTZData("Asia/Seoul", read("/usr/share/zoneinfo/Asia/Seoul")); err != nil {
		t.Errorf("tzdata: %v", err)
	}
	uid, _, _ := strings.Cut(imageUser, ":")
	if !strings.Contains(string(read("/etc/passwd")), ":x:"+uid+":") {
		t.Errorf("/etc/passwd does not name uid %s", uid)
	}
	if fi, err := os.Stat(filepath.Join(img.root, "tmp")); err != nil || fi.Mode()&fs.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp: %v %v; uploads spool there, so it must be mode 1777", fi, err)
	}
}

// TestImageRuns: protostar version and protostar config run from the
// image's own files, as its user, with an empty environment.
func TestImageRuns(t *testing.T) {
	img := setupImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	out, errOut, err := img.run(ctx, nil, "version", "--json")
	if err != nil {
		t.Fatalf("protostar version --json: %v\n%s", err, errOut)
	}
	var v struct{ Version, Revision, GoVersion string }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("protostar version --json printed %q: %v", out, err)
	}
	if v.Version != img.config.Labels["org.opencontainers.image.version"] || v.Revision != img.config.Labels["org.opencontainers.image.revision"] {
		t.Errorf("the binary says %s (%s), the labels %s (%s)", v.Version, v.Revision,
			img.config.Labels["org.opencontainers.image.version"], img.config.Labels["org.opencontainers.image.revision"])
	}
	if out, _, err := img.run(ctx, nil, "version"); err != nil || !strings.HasPrefix(out, "protostar "+v.Version) {
		t.Errorf("protostar version: %v, printed %q", err, out)
	}

	// With nothing set, config names each missing variable.
	_, errOut, err = img.run(ctx, nil, "config")
	if !exitCode(err, 1) || !strings.Contains(errOut, "PROTOSTAR_DATABASE_URL: is required") {
		t.Errorf("protostar config with an empty environment: %v, %q; want exit 1 naming PROTOSTAR_DATABASE_URL", err, errOut)
	}
	env := []string{"PROTOSTAR_DATABASE_URL=postgres://protostar:image-test-password@db:5432/protostar",
		"PROTOSTAR_REDIS_URL=redis://redis:6379/0", "PROTOSTAR_S3_ENDPOINT=minio:9000"}
	out, errOut, err = img.run(ctx, env, "config")
	if err != nil {
		t.Fatalf("protostar config: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "PROTOSTAR_S3_ENDPOINT=minio:9000\n") || strings.Contains(out, "image-test-password") {
		t.Errorf("protostar config printed %q: want the settings with the password masked", out)
	}
}

// TestImageServes: the image's binary, run from its files as its user,
// migrates a database of the stack, serves the API and runs a worker, its
// own healthcheck command finds both ready, and both stop cleanly on
// SIGTERM.
func TestImageServes(t *testing.T) {
	img := setupImage(t)
	db, redis, s3 := testenv.NewDatabase(t), testenv.NewRedis(t), testenv.NewS3(t)
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin"} // the image's, not ours
	for _, kv := range testenv.ProtostarEnv(db, redis.URL(), s3) {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, errOut, err := img.run(ctx, env, "migrate", "up"); err != nil {
		t.Fatalf("protostar migrate up from the image: %v\n%s%s", err, out, errOut)
	}
	logs := t.TempDir()
	for _, role := range []string{"serve", "worker"} {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.Port(t))
		roleEnv, probe := slices.Clone(env), []string{"healthcheck"}
		if role == "worker" {
			roleEnv, probe = append(roleEnv, "PROTOSTAR_WORKER_HTTP_ADDR="+addr), append(probe, "--worker")
		} else {
			roleEnv = append(roleEnv, "PROTOSTAR_HTTP_ADDR="+addr)
		}
		p := testenv.NewProcess(testenv.Command{
			Name: "image " + role, Path: img.chroot, Args: img.chrootArgs(role), Env: roleEnv,
			LogPath: filepath.Join(logs, role+".log"),
			Ready: func(ctx context.Context) (bool, error) { // the image's own probe
				_, _, err := img.run(ctx, roleEnv, probe...)
				return err == nil, nil
			},
		})
		testenv.Track(t, p)
		if err := p.StartReady(ctx, time.Minute); err != nil {
			t.Fatalf("%s from the image: %v\n%s", role, err, p.Tail(40))
		}
		if took, err := p.Stop(45 * time.Second); err != nil {
			t.Errorf("%s from the image: SIGTERM: %v (after %s)\n%s", role, err, took, p.Tail(20))
		}
	}
}

func exitCode(err error, code int) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}
