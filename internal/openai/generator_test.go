package openai

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
)

func newGenerator(t *testing.T, f *fake, edit ...func(*Config)) *Generator {
	t.Helper()
	cfg := f.config()
	for _, e := range edit {
		e(&cfg)
	}
	g, err := NewGenerator(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var testPassages = []protostar.Passage{
	{Index: 1, HeadingPath: []string{"Guide", "Speed"}, Text: "Go was designed at Google. Go compiles to native code quickly. It has a garbage collector."},
	{Index: 2, HeadingPath: []string{"Guide", "Tools"}, Text: "The go tool formats code with gofmt. Tests run with go test."},
	{Index: 3, Text: "데이터베이스는 데이터를 저장한다. 인덱스는 검색을 빠르게 한다."},
}

func TestAnswerStreams(t *testing.T) {
	t.Parallel()
	deltas := []string{"Go compiles", " to native code quickly", " [1].", " Tests run with go test [2][9].", " 인덱스는 검색을 빠르게 한다 [1, 3]."}
	received := make(chan string, len(deltas))
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		if r.URL.Path != "/v1/chat/completions" || !req.Stream {
			t.Errorf("got %s stream=%v, want a streamed /v1/chat/completions", r.URL.Path, req.Stream)
		}
		s := startSSE(w)
		for _, d := range deltas {
			s.delta(d)
			// The client must see each delta before the next is sent.
			select {
			case got := <-received:
				if got != d {
					t.Errorf("client saw %q, want %q", got, d)
				}
			case <-time.After(2 * time.Second):
				t.Errorf("delta %q not delivered while the stream is open", d)
				return
			}
		}
		s.done()
	})
	g := newGenerator(t, f)
	var got []string
	text, cited, err := g.Answer(t.Context(), "How fast does Go compile?", testPassages, func(d string) error {
		got = append(got, d)
		received <- d
		return nil
	})
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if diff := cmp.Diff(deltas, got); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
	if want := strings.Join(deltas, ""); text != want {
		t.Errorf("text %q, want %q", text, want)
	}
	wantCited := []protostar.Cited{
		{Passage: 1, Quote: "Go compiles to native code quickly."},
		{Passage: 2, Quote: "Tests run with go test."},
		{Passage: 3, Quote: "인덱스는 검색을 빠르게 한다."},
	}
	if diff := cmp.Diff(wantCited, cited); diff != "" {
		t.Errorf("citations (-want +got):\n%s", diff)
	}

	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Auth != "Bearer "+testKey || r.Body.Model != "chat-test" {
		t.Errorf("auth %q model %q", r.Auth, r.Body.Model)
	}
	if len(r.Body.Messages) != 2 || r.Body.Messages[0].Role != "system" || r.Body.Messages[1].Role != "user" {
		t.Fatalf("messages %+v, want system and user", r.Body.Messages)
	}
	user := r.Body.Messages[1].Content
	for _, want := range []string{"[1] (Guide > Speed)\nGo was designed at Google.", "[2] (Guide > Tools)", "[3]\n데이터베이스는", "Question: How fast does Go compile?"} {
		if !strings.Contains(user, want) {
			t.Errorf("user prompt lacks %q:\n%s", want, user)
		}
	}
	if sys := r.Body.Messages[0].Content; !strings.Contains(sys, "cannot answer") || !strings.Contains(sys, "[1]") {
		t.Errorf("system prompt lacks the citation or no-answer rule:\n%s", sys)
	}
}

func TestAnswerOnDeltaErrorAborts(t *testing.T) {
	t.Parallel()
	errStop := errors.New("client went away")
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		s := startSSE(w)
		s.delta("one")
		s.delta(" two")
		s.delta(" three")
		s.done()
	})
	g := newGenerator(t, f)
	var got []string
	text, cited, err := g.Answer(t.Context(), "q?", testPassages, func(d string) error {
		got = append(got, d)
		if len(got) == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Errorf("err = %v, want errStop", err)
	}
	if text != "" || cited != nil {
		t.Errorf("got %q %v, want nothing", text, cited)
	}
	if diff := cmp.Diff([]string{"one", " two"}, got); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestAnswerRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		handler   handlerFunc
		timeout   time.Duration
		wantText  string
		wantCode  string // "" for success
		wantCalls int
	}{
		{
			name: "500 before the stream is retried",
			handler: func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				if n == 0 {
					writeError(w, 500, "oops")
					return
				}
				s := startSSE(w)
				s.delta("ok [1].")
				s.done()
			},
			wantText: "ok [1].", wantCalls: 2,
		},
		{
			name: "error event before any delta is retried",
			handler: func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				if n == 0 {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = w.Write([]byte("data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"))
					return
				}
				s := startSSE(w)
				s.delta("ok")
				s.done()
			},
			wantText: "ok", wantCalls: 2,
		},
		{
			name: "silent stream times out and is retried",
			handler: func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				s := startSSE(w)
				if n == 0 {
					select { // say nothing until the client gives up
					case <-r.Context().Done():
					case <-time.After(3 * time.Second):
					}
					return
				}
				s.delta("ok")
				s.done()
			},
			timeout:  200 * time.Millisecond,
			wantText: "ok", wantCalls: 2,
		},
		{
			name: "break after a delta is not retried",
			handler: func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				s := startSSE(w)
				s.delta("partial")
				panic(http.ErrAbortHandler)
			},
			wantCode: protostar.EUNAVAILABLE, wantCalls: 1,
		},
		{
			name: "400 is not retried",
			handler: func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				writeError(w, 400, "context length exceeded")
			},
			wantCode: protostar.EINVALID, wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, tt.handler)
			g := newGenerator(t, f, func(c *Config) {
				if tt.timeout > 0 {
					c.Timeout = tt.timeout
				}
			})
			var deltas []string
			text, _, err := g.Answer(t.Context(), "q?", testPassages, func(d string) error {
				deltas = append(deltas, d)
				return nil
			})
			if n := len(f.requests()); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
			if tt.wantCode != "" {
				if protostar.ErrorCode(err) != tt.wantCode {
					t.Errorf("err = %v (code %s), want %s", err, protostar.ErrorCode(err), tt.wantCode)
				}
				return
			}
			if err != nil || text != tt.wantText || strings.Join(deltas, "") != tt.wantText {
				t.Errorf("Answer = %q (deltas %q), %v; want %q", text, deltas, err, tt.wantText)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        protostar.SummaryInput
		reply     string
		want      string
		wantInMsg []string // substrings of system+user prompt
		wantCode  string
		wantCalls int
	}{
		{
			name:      "map step shows the heading path",
			in:        protostar.SummaryInput{Text: "Go compiles fast.", HeadingPath: []string{"Guide", "Speed"}, Length: "short"},
			reply:     "  Go compiles quickly.  ",
			want:      "Go compiles quickly.",
			wantInMsg: []string{"one section", "2 to 3 sentences", "Section: Guide > Speed", "Go compiles fast.", "Korean"},
			wantCalls: 1,
		},
		{
			name:      "reduce step sees section summaries",
			in:        protostar.SummaryInput{Text: "데이터베이스는 데이터를 저장한다.\n인덱스는 검색을 빠르게 한다.", Length: "long", Reduce: true},
			reply:     "<think>plan the summary</think>\n데이터베이스는 데이터를 저장하고 인덱스로 검색을 빠르게 한다.",
			want:      "데이터베이스는 데이터를 저장하고 인덱스로 검색을 빠르게 한다.",
			wantInMsg: []string{"summaries of its sections", "several paragraphs", "데이터베이스는 데이터를 저장한다.\n인덱스는"},
			wantCalls: 1,
		},
		{
			name:      "empty length means medium",
			in:        protostar.SummaryInput{Text: "Some text."},
			reply:     "Summary.",
			want:      "Summary.",
			wantInMsg: []string{"one paragraph"},
			wantCalls: 1,
		},
		{name: "bad length", in: protostar.SummaryInput{Text: "x", Length: "huge"}, wantCode: protostar.EINVALID},
		{name: "blank text makes no request", in: protostar.SummaryInput{Text: " \n "}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
				if r.URL.Path != "/v1/chat/completions" || req.Stream {
					t.Errorf("got %s stream=%v, want a plain /v1/chat/completions", r.URL.Path, req.Stream)
				}
				writeCompletion(w, tt.reply)
			})
			got, err := newGenerator(t, f).Summarize(t.Context(), tt.in)
			if protostar.ErrorCode(err) != tt.wantCode {
				t.Fatalf("err = %v, want code %q", err, tt.wantCode)
			}
			if got != tt.want {
				t.Errorf("summary %q, want %q", got, tt.want)
			}
			reqs := f.requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantCalls)
			}
			if tt.wantCalls == 0 {
				return
			}
			var prompt strings.Builder
			for _, m := range reqs[0].Body.Messages {
				prompt.WriteString(m.Content + "\n")
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(prompt.String(), s) {
					t.Errorf("prompt lacks %q:\n%s", s, prompt.String())
				}
			}
		})
	}
}

func TestSummarizeRetries500(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		if n == 0 {
			writeError(w, 503, "loading model")
			return
		}
		writeCompletion(w, "done")
	})
	got, err := newGenerator(t, f).Summarize(t.Context(), protostar.SummaryInput{Text: "x"})
	if err != nil || got != "done" {
		t.Errorf("Summarize = %q, %v", got, err)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestGeneratorConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		if n%2 == 0 {
			w.Header().Set("Retry-After", "0")
			writeError(w, 429, "slow")
			return
		}
		writeCompletion(w, "ok")
	})
	g := newGenerator(t, f, func(c *Config) { c.MaxAttempts = 10 })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := g.Summarize(t.Context(), protostar.SummaryInput{Text: "x"}); err != nil {
				t.Errorf("Summarize: %v", err)
			}
		})
	}
	wg.Wait()
}
