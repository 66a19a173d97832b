package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

// randomReader returns size deterministic pseudo-random bytes derived from
// seed, generated as they are read.
func randomReader(seed byte, size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), size)
}

func TestPutStatOpenRoundTrip(t *testing.T) {
	t.Parallel()
	s := setup(t)
	tests := []struct {
		name, key, contentType string
		body                   []byte
	}{
		{"korean key with space", "문서/설계 노트.md", "text/markdown; charset=utf-8", []byte("# 설계 노트\n\n데이터베이스를 설계한다.\n")},
		{"plain key", "plain.txt", "text/plain", []byte("hello")},
		{"reserved characters", "a b/c+d&e=f?g#h%i;j,k'l\"m(n)o[p]q~.md", "text/markdown", []byte("punctuation")},
		{"non-latin scripts and emoji", "ünïcödé/日本語/📄 file.md", "text/markdown", []byte("emoji")},
		{"empty object", "empty/빈 파일", "", nil},
		{"multipart sized", "big/16MiB를 넘는 파일.bin", "application/octet-stream", nil}, // body filled below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			body := tt.body
			if tt.name == "multipart sized" {
				// Above minio-go's 16 MiB single-PUT limit, so this goes
				// through the multipart path.
				body, _ = io.ReadAll(randomReader(1, 17<<20+123))
			}

			put, err := s.Put(ctx, tt.key, bytes.NewReader(body), int64(len(body)), tt.contentType)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			wantType := tt.contentType
			if wantType == "" {
				wantType = "application/octet-stream"
			}
			if put.Key != tt.key || put.Size != int64(len(body)) || put.ETag == "" || put.ContentType != wantType {
				t.Errorf("Put = %+v, want key %q, size %d, an ETag, content type %q", put, tt.key, len(body), wantType)
			}

			stat, err := s.Stat(ctx, tt.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			want := put
			want.LastModified = stat.LastModified
			if diff := cmp.Diff(want, stat); diff != "" {
				t.Errorf("Stat differs from Put's info (-put +stat):\n%s", diff)
			}
			if age := time.Since(stat.LastModified); stat.LastModified.IsZero() || age > time.Hour || age < -time.Hour {
				t.Errorf("Stat LastModified = %v, want about now", stat.LastModified)
			}

			rc, info, err := s.Open(ctx, tt.key)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			if diff := cmp.Diff(stat, info); diff != "" {
				t.Errorf("Open info differs from Stat (-stat +open):\n%s", diff)
			}
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, body) {
				t.Errorf("read %d bytes that differ from the %d put", len(got), len(body))
			}
			if err := rc.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}

			if err := s.Delete(ctx, tt.key); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := s.Stat(ctx, tt.key); !errors.Is(err, protostar.ErrNotFound) {
				t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
			}
			if err := s.Delete(ctx, tt.key); err != nil {
				t.Fatalf("Delete of a missing key = %v, want nil", err)
			}
		})
	}
}

func TestPutReplacesObject(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	const key = "문서/덮어쓰기.md"
	first, err := s.Put(ctx, key, strings.NewReader("version one"), 11, "text/markdown")
	if err != nil {
		t.Fatalf("first Put: %v", err)
	}
	second, err := s.Put(ctx, key, strings.NewReader("v2"), 2, "text/markdown")
	if err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if first.ETag == second.ETag {
		t.Errorf("ETag did not change on overwrite: %q", first.ETag)
	}
	rc, info, err := s.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != "v2" || info.ETag != second.ETag {
		t.Fatalf("Open = %q, %v (ETag %q); want \"v2\" with ETag %q", got, err, info.ETag, second.ETag)
	}
}

func TestMissingObjectIsNotFound(t *testing.T) {
	t.Parallel()
	s := setup(t)
	noBucket := newStore(t, nil) // its bucket is never created
	const key = "문서/없는 키.md"
	tests := []struct {
		name  string
		store *Store
		op    string
		call  func(*Store) error
	}{
		{"Open missing key", s, "open", func(s *Store) error {
			_, _, err := s.Open(t.Context(), key)
			return err
		}},
		{"Stat missing key", s, "stat", func(s *Store) error {
			_, err := s.Stat(t.Context(), key)
			return err
		}},
	}
	// A missing bucket is a retryable misconfiguration, not a missing object.
	if _, _, err := noBucket.Open(t.Context(), key); !errors.Is(err, protostar.ErrUnavailable) {
		t.Errorf("Open in missing bucket: err = %v, want ErrUnavailable", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(tt.store)
			if !errors.Is(err, protostar.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			if code := protostar.ErrorCode(err); code != protostar.ENOTFOUND {
				t.Errorf("ErrorCode = %q, want %q", code, protostar.ENOTFOUND)
			}
			if msg, want := protostar.ErrorMessage(err), `object "`+key+`" not found`; msg != want {
				t.Errorf("ErrorMessage = %q, want %q", msg, want)
			}
			if !strings.HasPrefix(err.Error(), tt.op+" ") || !strings.Contains(err.Error(), key) {
				t.Errorf("err = %q, want it to start with the operation %q and name the key", err, tt.op)
			}
			if errors.Is(err, protostar.ErrUnavailable) {
				t.Errorf("err = %v also matches ErrUnavailable", err)
			}
		})
	}

	t.Run("Delete missing key", func(t *testing.T) {
		t.Parallel()
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete = %v, want nil", err)
		}
	})
}

func TestPutRejectsUnknownSize(t *testing.T) {
	t.Parallel()
	// The unreachable store also proves the check happens before any I/O.
	s := unreachableStore(t)
	for _, size := range []int64{-1, -42} {
		_, err := s.Put(t.Context(), "key", strings.NewReader("hello"), size, "")
		if protostar.ErrorCode(err) != protostar.EINVALID || errors.Is(err, protostar.ErrUnavailable) {
			t.Errorf("Put with size %d = %v, want EINVALID before any I/O", size, err)
		}
	}
}

func TestPutSourceFailures(t *testing.T) {
	t.Parallel()
	s := setup(t)
	errSource := errors.New("source broke")
	const big = 17 << 20 // above the single-PUT limit: the multipart path
	tests := []struct {
		name     string
		r        io.Reader
		size     int64
		wantErr  error  // matched with errors.Is, if set
		wantCode string // protostar code, if set
	}{
		{"failing source", io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(errSource)), 100, errSource, ""},
		{"failing source multipart", io.MultiReader(randomReader(2, big-10), iotest.ErrReader(errSource)), big, errSource, ""},
		{"short source", strings.NewReader("short"), 100, nil, protostar.EINVALID},
		{"short source multipart", randomReader(3, big-10), big, nil, protostar.EINVALID},
		{"long source", strings.NewReader("longer than announced"), 6, nil, protostar.EINVALID},
		{"long source multipart", randomReader(4, big+10), big, nil, protostar.EINVALID},
		{"long source empty object", strings.NewReader("x"), 0, nil, protostar.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := "broken/" + tt.name
			_, err := s.Put(t.Context(), key, tt.r, tt.size, "")
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			if errors.Is(err, protostar.ErrUnavailable) {
				t.Errorf("Put = %v: a source failure is reported as the store being unavailable", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Put = %v, want it to wrap %v", err, tt.wantErr)
			}
			if tt.wantCode != "" && protostar.ErrorCode(err) != tt.wantCode {
				t.Errorf("Put = %v (code %q), want code %q", err, protostar.ErrorCode(err), tt.wantCode)
			}
			if _, err := s.Stat(t.Context(), key); !errors.Is(err, protostar.ErrNotFound) {
				t.Errorf("Stat after the failed Put = %v, want ErrNotFound (nothing stored)", err)
			}
		})
	}
}

// TestOpenStreamsLargeObject writes and reads back an object far larger
// than the heap it allows itself, through readers only. It is deliberately
// not parallel: heap statistics are process-wide, and the other tests'
// uploads (16 MiB part buffers each) would blur the measurement.
func TestOpenStreamsLargeObject(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 300 MiB")
	}
	const (
		size      = 300 << 20
		heapLimit = 64 << 20
		key       = "큰 파일/300MiB 스트림.bin"
	)
	s := setup(t)
	ctx := t.Context()
	var peak heapPeak

	runtime.GC()
	wantHash := sha256.New()
	src := io.TeeReader(randomReader(7, size), wantHash)
	start := time.Now()
	put, err := s.Put(ctx, key, readFunc(func(p []byte) (int, error) {
		peak.sample()
		return src.Read(p)
	}), size, "application/octet-stream")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	t.Logf("Put %d MiB in %v, peak heap in use %d MiB", size>>20, time.Since(start).Round(time.Millisecond), peak.max>>20)
	if put.Size != size {
		t.Fatalf("Put size = %d, want %d", put.Size, size)
	}
	if peak.max > heapLimit {
		t.Errorf("heap in use reached %d MiB during Put, want < %d MiB", peak.max>>20, heapLimit>>20)
	}

	runtime.GC()
	peak = heapPeak{}
	start = time.Now()
	rc, info, err := s.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	if info.Size != size || info.ETag != put.ETag {
		t.Fatalf("Open info = %+v, want size %d and ETag %q", info, size, put.ETag)
	}
	gotHash := sha256.New()
	buf := make([]byte, 32<<10)
	var total int64
	for reads := 0; ; reads++ {
		n, err := rc.Read(buf)
		total += int64(n)
		gotHash.Write(buf[:n])
		if reads%256 == 0 { // every 8 MiB
			peak.sample()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", total, err)
		}
	}
	peak.sample()
	t.Logf("read %d MiB in %v, peak heap in use %d MiB", total>>20, time.Since(start).Round(time.Millisecond), peak.max>>20)
	if total != size {
		t.Fatalf("read %d bytes, want %d", total, size)
	}
	if !bytes.Equal(gotHash.Sum(nil), wantHash.Sum(nil)) {
		t.Fatal("sha256 of the bytes read differs from that of the bytes written")
	}
	if peak.max > heapLimit {
		t.Errorf("heap in use reached %d MiB while streaming a %d MiB object, want < %d MiB", peak.max>>20, size>>20, heapLimit>>20)
	}
}

// heapPeak records the largest HeapInuse seen.
type heapPeak struct{ max uint64 }

func (h *heapPeak) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.max = max(h.max, m.HeapInuse)
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// TestPutStream: an upload of unknown length is stored whole, in parts,
// up to its limit; past the limit it fails with ETOOLARGE and stores
// nothing.
func TestPutStream(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte("streamed line of text\n"), (12<<20)/22) // > two 5 MiB parts
	info, err := s.PutStream(ctx, "stream/big.md", bytes.NewReader(big), int64(len(big)), "text/markdown")
	if err != nil || info.Size != int64(len(big)) {
		t.Fatalf("PutStream = %+v, %v; want %d bytes", info, err, len(big))
	}
	if st, err := s.Stat(ctx, "stream/big.md"); err != nil || st.Size != int64(len(big)) {
		t.Fatalf("stored %+v, %v", st, err)
	}
	_, err = s.PutStream(ctx, "stream/over.md", bytes.NewReader(big), int64(len(big))-1, "text/markdown")
	if protostar.ErrorCode(err) != protostar.ETOOLARGE {
		t.Fatalf("over the limit: %v, want ETOOLARGE", err)
	}
	if _, err := s.Stat(ctx, "stream/over.md"); protostar.ErrorCode(err) != protostar.ENOTFOUND {
		t.Fatalf("the refused stream was stored: %v", err)
	}
}

// cuttingProxy forwards TCP connections to addr and cuts the first
// answer that grows past cutAfter bytes, as a server's write deadline or a
// load balancer's idle timeout cuts a slowly read download.
type cuttingProxy struct {
	ln       net.Listener
	addr     string
	cutAfter int64
	cut      atomic.Bool
	mu       sync.Mutex
	conns    []net.Conn
}

func startCuttingProxy(t *testing.T, addr string, cutAfter int64) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, addr: addr, cutAfter: cutAfter}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns { // idle keep-alive connections too
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			wg.Go(func() { p.serve(c) })
		}
	})
	return p
}

func (p *cuttingProxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.addr)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(up, c) }()
	var n int64
	buf := make([]byte, 32<<10)
	for {
		m, err := up.Read(buf)
		if m > 0 {
			if n += int64(m); n > p.cutAfter && p.cut.CompareAndSwap(false, true) {
				return // cut mid-answer, once
			}
			if _, werr := c.Write(buf[:m]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestOpenResumesACutStream: a download cut mid-object goes on where it
// broke, with the same bytes; an object replaced meanwhile is not spliced
// onto the old one's first part.
func TestOpenResumesACutStream(t *testing.T) {
	t.Parallel()
	env := testenv.NewS3(t)
	direct := setupOn(t, env, env.Endpoint)
	const size = 8 << 20
	body, _ := io.ReadAll(randomReader(7, size))
	ctx := t.Context()
	if _, err := direct.Put(ctx, "cut/긴 문서.md", bytes.NewReader(body), size, "text/markdown"); err != nil {
		t.Fatal(err)
	}

	t.Run("resumed", func(t *testing.T) {
		proxy := startCuttingProxy(t, env.Endpoint, 2<<20)
		s := setupOn(t, env, proxy.ln.Addr().String())
		rc, _, err := s.Open(ctx, "cut/긴 문서.md")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		if !proxy.cut.Load() {
			t.Fatal("the proxy never cut the stream")
		}
		if sha256.Sum256(got) != sha256.Sum256(body) {
			t.Fatalf("read %d bytes that differ from the object's %d", len(got), size)
		}
	})

	t.Run("object replaced meanwhile", func(t *testing.T) {
		proxy := startCuttingProxy(t, env.Endpoint, 2<<20)
		s := setupOn(t, env, proxy.ln.Addr().String())
		rc, _, err := s.Open(ctx, "cut/긴 문서.md")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := io.CopyN(io.Discard, rc, 1<<20); err != nil {
			t.Fatal(err)
		}
		other, _ := io.ReadAll(randomReader(8, size))
		if _, err := direct.Put(ctx, "cut/긴 문서.md", bytes.NewReader(other), size, "text/markdown"); err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		if !errors.Is(err, protostar.ErrUnavailable) {
			t.Fatalf("read %d more bytes, then %v; want ErrUnavailable", n, err)
		}
	})
}

// setupOn is a Store on the test's bucket env.Bucket reached at endpoint
// (a proxy in front of the stack's MinIO, or the MinIO itself).
func setupOn(t *testing.T, env testenv.S3, endpoint string) *Store {
	t.Helper()
	s, err := New(testLogger(t), Config{Endpoint: endpoint, AccessKey: env.AccessKey, SecretKey: env.SecretKey,
		Bucket: env.Bucket, CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}
