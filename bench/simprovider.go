package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tiktoken-go/tokenizer"
	"golang.org/x/time/rate"

	"github.com/protostar/protostar/internal/hashembed"
)

// simConfig is the simulated embedding provider's behaviour: what one
// request costs and the limits it enforces.
type simConfig struct {
	Latency   time.Duration // fixed cost of every admitted request
	PerToken  time.Duration // added per input token
	RPM       int           // requests per minute
	TPM       int           // input tokens per minute
	Dims      int           // default vector size when the request sends no dimensions
	ModelName string
}

// simProvider is a simulated OpenAI-compatible embeddings endpoint on
// loopback (POST /v1/embeddings). An admitted request sleeps Latency plus
// PerToken for each input token (cl100k, as OpenAI counts them) and returns
// deterministic vectors (the offline hash embedder's, so searches over
// them find things). Requests over the per-minute limits get 429 with
// Retry-After and Retry-After-Ms and cost nothing, as OpenAI's do. Like
// OpenAI's, the limits are enforced over short windows: a minute's quota
// refills continuously with a burst of one second's share, so a client
// cannot spend a minute's requests in the first second.
type simProvider struct {
	cfg      simConfig
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	requests *rate.Limiter
	tokens   *rate.Limiter
	codec    tokenizer.Codec
	emb      *hashembed.Embedder

	mu       sync.Mutex
	stats    simStats
	rejected map[[32]byte]bool // bodies that got a 429 and have not succeeded since
}

// simStats counts what the simulated provider saw.
type simStats struct {
	Requests     int // every request, 429s included
	OK           int // answered with embeddings
	Throttled    int // answered 429
	RetriedOK    int // succeeded after the same body had a 429
	Inputs       int // texts embedded
	Tokens       int // tokens embedded
	BadRequests  int
	MaxInFlight  int
	inFlight     int
	firstRequest time.Time
	lastRequest  time.Time
}

func startSimProvider(cfg simConfig) (*simProvider, error) {
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		return nil, fmt.Errorf("simulated provider: %w", err)
	}
	emb, err := hashembed.New(cfg.Dims)
	if err != nil {
		return nil, err
	}
	p := &simProvider{cfg: cfg, requests: perMinute(cfg.RPM), tokens: perMinute(cfg.TPM), codec: codec, emb: emb,
		rejected: map[[32]byte]bool{}, done: make(chan struct{})}
	if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("simulated provider: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/embeddings", p.embeddings)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(p.ln)
	}()
	return p, nil
}

// BaseURL is what PROTOSTAR_OPENAI_BASE_URL is set to.
func (p *simProvider) BaseURL() string { return "http://" + p.ln.Addr().String() + "/v1" }

// Close stops the server.
func (p *simProvider) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	<-p.done
}

// Stats returns the counts since the last Reset.
func (p *simProvider) Stats() simStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Reset zeroes the counts and refills the limits.
func (p *simProvider) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats, p.rejected = simStats{}, map[[32]byte]bool{}
	p.requests, p.tokens = perMinute(p.cfg.RPM), perMinute(p.cfg.TPM)
}

// perMinute is a limit of n per minute, enforced per second: it refills
// continuously and holds at most one second's share.
func perMinute(n int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(float64(n)/60), max(1, n/60))
}

// limitChunksPerSecond is the provider's own limit for requests of batch
// texts of tokensPerText tokens each: min(RPM × batch, TPM / tokens per
// text), per second.
func (c simConfig) limitChunksPerSecond(batch, tokensPerText float64) float64 {
	return min(float64(c.RPM)*batch, float64(c.TPM)/max(tokensPerText, 1)) / 60
}

type simRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions"`
}

func (p *simProvider) embeddings(w http.ResponseWriter, r *http.Request) {
	var req simRequest
	body := http.MaxBytesReader(w, r.Body, 64<<20)
	if err := json.NewDecoder(body).Decode(&req); err != nil || len(req.Input) == 0 {
		p.count(func(s *simStats) { s.Requests++; s.BadRequests++ })
		simError(w, http.StatusBadRequest, "invalid_request_error", "input must be a non-empty array of strings")
		return
	}
	tokens := 0
	for _, t := range req.Input {
		n, err := p.codec.Count(t)
		if err != nil {
			n = len(t) / 4
		}
		tokens += n
	}
	key := bodyKey(req.Input)
	if wait, ok := p.admit(tokens); !ok {
		p.count(func(s *simStats) { s.Requests++; s.Throttled++; p.rejected[key] = true })
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(max(wait.Milliseconds(), 1), 10))
		simError(w, http.StatusTooManyRequests, "rate_limit_exceeded",
			fmt.Sprintf("Rate limit reached for %s: limits %d RPM, %d TPM. Please try again in %dms.", p.cfg.ModelName, p.cfg.RPM, p.cfg.TPM, wait.Milliseconds()))
		return
	}
	p.count(func(s *simStats) {
		s.Requests++
		s.inFlight++
		s.MaxInFlight = max(s.MaxInFlight, s.inFlight)
	})
	defer p.count(func(s *simStats) { s.inFlight-- })
	select {
	case <-time.After(p.cfg.Latency + time.Duration(tokens)*p.cfg.PerToken):
	case <-r.Context().Done():
		return
	}
	p.respond(w, r, req, tokens, key)
}

// admit takes one request and tokens from the limits, or neither, and
// says how long until both would have room.
func (p *simProvider) admit(tokens int) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	rr := p.requests.ReserveN(now, 1)
	tr := p.tokens.ReserveN(now, min(tokens, p.tokens.Burst()))
	if !rr.OK() || !tr.OK() {
		return time.Minute, false
	}
	wait := max(rr.DelayFrom(now), tr.DelayFrom(now))
	if wait > 0 {
		rr.CancelAt(now)
		tr.CancelAt(now)
		return wait, false
	}
	return 0, true
}

func (p *simProvider) respond(w http.ResponseWriter, r *http.Request, req simRequest, tokens int, key [32]byte) {
	dims := p.cfg.Dims
	if req.Dimensions > 0 && req.Dimensions != dims {
		simError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("this simulated model has %d dimensions", dims))
		return
	}
	vecs, err := p.emb.Embed(r.Context(), req.Input)
	if err != nil {
		simError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(vecs))
	for i, v := range vecs {
		data[i] = item{Object: "embedding", Index: i, Embedding: v}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
	p.count(func(s *simStats) {
		s.OK++
		s.Inputs += len(req.Input)
		s.Tokens += tokens
		if p.rejected[key] {
			s.RetriedOK++
			delete(p.rejected, key)
		}
		if s.firstRequest.IsZero() {
			s.firstRequest = time.Now()
		}
		s.lastRequest = time.Now()
	})
}

func (p *simProvider) count(fn func(*simStats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(&p.stats)
}

func bodyKey(input []string) [32]byte {
	h := sha256.New()
	for _, s := range input {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// simError writes an error in OpenAI's shape.
func simError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": typ}})
}
