package openai

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/template"
	"time"

	"github.com/cenkalti/backoff/v5"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/protostar/protostar"
)

// promptVersion names the prompt templates in use. Bump it (and add new
// template files) whenever a prompt changes, so cached summaries and
// answers made with older prompts are not reused.
const promptVersion = "v1"

//go:embed prompts/*.tmpl
var promptFS embed.FS

// Generator summarises and answers with an OpenAI-compatible chat
// endpoint. It is safe for concurrent use; all its requests share one
// throttle.
type Generator struct {
	c       *client
	mapT    *template.Template
	reduceT *template.Template
	answerT *template.Template
}

// NewGenerator returns a Generator. It fails with EINVALID when ChatModel
// is empty or another field is invalid. It does no I/O.
func NewGenerator(logger *slog.Logger, cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.ChatModel == "" {
		return nil, protostar.Errorf(protostar.EINVALID, "openai: chat model must be set")
	}
	g := &Generator{c: newClient(logger.With("component", "openai_generator", "model", cfg.ChatModel), cfg, cfg.ChatModel, cfg.MaxConcurrency)}
	if g.mapT, err = parsePrompt("summary_map"); err != nil {
		return nil, err
	}
	if g.reduceT, err = parsePrompt("summary_reduce"); err != nil {
		return nil, err
	}
	if g.answerT, err = parsePrompt("answer"); err != nil {
		return nil, err
	}
	return g, nil
}

func parsePrompt(name string) (*template.Template, error) {
	file := "prompts/" + name + "." + promptVersion + ".tmpl"
	t, err := template.New(name).Option("missingkey=error").ParseFS(promptFS, file)
	if err != nil {
		return nil, fmt.Errorf("parse prompt %s: %w", file, err)
	}
	for _, part := range []string{"system", "user"} {
		if t.Lookup(part) == nil {
			return nil, fmt.Errorf("prompt %s defines no %q template", file, part)
		}
	}
	return t, nil
}

// Model returns the chat model's name.
func (g *Generator) Model() string { return g.c.cfg.ChatModel }

// PromptVersion returns the version of the prompt templates; together with
// Model it identifies the output for caching.
func (g *Generator) PromptVersion() string { return promptVersion }

// lengthGuides tell the model how long a summary should be.
var lengthGuides = map[string]string{
	"short":  "2 to 3 sentences",
	"medium": "one paragraph of about 4 to 6 sentences",
	"long":   "several paragraphs (about 3 to 5) that cover every main point",
}

// Summarize summarises one section (the map step: in.Text with its
// in.HeadingPath) or, with in.Reduce, the whole document from its section
// summaries, one per line. The summary keeps the text's language. An empty
// Length means medium; any other value than short, medium or long is
// EINVALID. A blank text gives "" without a request.
//
// Errors follow Embed's: EINVALID when the provider rejects the request,
// EUNPROCESSABLE when its content filter blocks the output, EUNAVAILABLE
// when the retry budget runs out, ctx's error when ctx ends.
func (g *Generator) Summarize(ctx context.Context, in protostar.SummaryInput) (string, error) {
	length := cmp.Or(in.Length, "medium")
	if !protostar.ValidSummaryLength(length) {
		return "", protostar.Errorf(protostar.EINVALID, "summary length %q is not short, medium or long", in.Length)
	}
	if strings.TrimSpace(in.Text) == "" {
		return "", nil
	}
	t, step := g.mapT, "map"
	if in.Reduce {
		t, step = g.reduceT, "reduce"
	}
	msgs, err := render(t, struct{ Guide, HeadingPath, Text string }{
		Guide: lengthGuides[length], HeadingPath: strings.Join(in.HeadingPath, " > "), Text: in.Text,
	})
	if err != nil {
		return "", err
	}
	what := fmt.Sprintf("summarize (%s, %s) with %s", step, length, g.Model())
	req := goopenai.ChatCompletionRequest{Model: g.Model(), Messages: msgs}
	return call(ctx, g.c, what, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, g.c.cfg.Timeout)
		defer cancel()
		resp, err := g.c.api.CreateChatCompletion(ctx, req)
		if err != nil {
			return "", err
		}
		if len(resp.Choices) == 0 {
			return "", errors.New("provider returned no choices")
		}
		ch := resp.Choices[0]
		if err := g.checkFinish(what, ch.FinishReason); err != nil {
			return "", err
		}
		text := stripThinking(ch.Message.Content)
		if text == "" {
			return "", fmt.Errorf("provider returned an empty summary (finish_reason %q)", ch.FinishReason)
		}
		return text, nil
	})
}

// checkFinish turns a content-filter stop into a permanent error and logs a
// truncated output; the truncated text is still used.
func (g *Generator) checkFinish(what string, reason goopenai.FinishReason) error {
	switch reason {
	case goopenai.FinishReasonContentFilter:
		return backoff.Permanent(protostar.Errorf(protostar.EUNPROCESSABLE, "%s: the provider's content filter blocked the output", what))
	case goopenai.FinishReasonLength:
		g.c.logger.Warn("provider output truncated at its token limit", "op", what)
	}
	return nil
}

// stripThinking removes the <think>…</think> block that reasoning models
// served by Ollama or vLLM without a reasoning parser put before the
// actual output.
func stripThinking(s string) string {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "<think>"); ok {
		if _, after, found := strings.Cut(rest, "</think>"); found {
			s = strings.TrimSpace(after)
		}
	}
	return s
}

// promptPassage is one passage as the answer prompt shows it.
type promptPassage struct {
	Label       int
	HeadingPath string
	Text        string
}

// Answer answers question from passages, streaming the chat completion:
// onDelta (which may be nil) gets every content delta as it arrives, and
// the deltas concatenate to the returned text. Passages are shown to the
// model as [Index] (their position from 1 when Index is 0) and the model
// is told to cite them with [n] markers and to say so when the passages do
// not hold the answer.
//
// Every distinct existing passage cited in the answer ([n], [n][m] or
// [n, m]; unknown numbers are ignored) gets one Cited, in order of first
// citation, whose Quote is the passage sentence that best overlaps the
// answer sentences citing it.
//
// A failure is retried only while no delta has been passed to onDelta;
// afterwards the stream's failure is returned as EUNAVAILABLE. An error
// from onDelta stops the stream and is returned, wrapped. Other errors
// follow Summarize's.
func (g *Generator) Answer(ctx context.Context, question string, passages []protostar.Passage, onDelta func(string) error) (string, []protostar.Cited, error) {
	if strings.TrimSpace(question) == "" {
		return "", nil, protostar.Errorf(protostar.EINVALID, "question must not be empty")
	}
	data := struct {
		Question string
		Passages []promptPassage
	}{Question: question}
	for i, p := range passages {
		data.Passages = append(data.Passages, promptPassage{
			Label: label(p, i), HeadingPath: strings.Join(p.HeadingPath, " > "), Text: strings.TrimSpace(p.Text),
		})
	}
	msgs, err := render(g.answerT, data)
	if err != nil {
		return "", nil, err
	}
	what := fmt.Sprintf("answer with %s", g.Model())
	req := goopenai.ChatCompletionRequest{Model: g.Model(), Messages: msgs, Stream: true}
	text, err := call(ctx, g.c, what, func(ctx context.Context) (string, error) {
		return g.stream(ctx, what, req, onDelta)
	})
	if err != nil {
		return "", nil, err
	}
	return text, citations(text, passages), nil
}

// label is the number a passage is cited by.
func label(p protostar.Passage, i int) int { return cmp.Or(p.Index, i+1) }

// stream runs one streamed completion. Before the first delta every
// failure goes back to call for classification (and maybe a retry); after
// it, failures are permanent, since the deltas cannot be taken back.
func (g *Generator) stream(ctx context.Context, what string, req goopenai.ChatCompletionRequest, onDelta func(string) error) (string, error) {
	// Timeout bounds the wait for the response and then each silence
	// between events, not the whole answer.
	timeout := g.c.cfg.Timeout
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(timeout, func() { cancel(fmt.Errorf("no data from provider for %s", timeout)) })
	defer idle.Stop()
	withCause := func(err error) error {
		cause := context.Cause(sctx)
		if ctx.Err() != nil || cause == nil || errors.Is(err, cause) {
			return err
		}
		return fmt.Errorf("%w: %w", cause, err)
	}

	s, err := g.c.api.CreateChatCompletionStream(sctx, req)
	if err != nil {
		return "", withCause(err)
	}
	defer s.Close()
	var (
		b      strings.Builder
		finish goopenai.FinishReason
	)
	for {
		resp, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			err = withCause(err)
			if b.Len() == 0 || ctx.Err() != nil {
				return "", err
			}
			return "", backoff.Permanent(protostar.Wrap(protostar.EUNAVAILABLE, g.c.redactErr(err),
				"%s: stream broke after %d bytes of answer", what, b.Len()))
		}
		idle.Reset(timeout)
		for _, ch := range resp.Choices {
			if ch.Index != 0 {
				continue
			}
			finish = cmp.Or(ch.FinishReason, finish)
			delta := ch.Delta.Content
			if delta == "" {
				continue
			}
			b.WriteString(delta)
			if onDelta != nil {
				if err := onDelta(delta); err != nil {
					return "", backoff.Permanent(err)
				}
			}
		}
	}
	if b.Len() == 0 {
		if err := g.checkFinish(what, finish); err != nil {
			return "", err
		}
		return "", fmt.Errorf("provider returned an empty answer (finish_reason %q)", finish)
	}
	switch finish {
	case "":
		// go-openai reports a stream cut off without [DONE] as a normal end;
		// a missing finish_reason is the only hint.
		g.c.logger.Warn("answer stream ended without a finish reason; it may be truncated", "op", what)
	case goopenai.FinishReasonLength, goopenai.FinishReasonContentFilter:
		g.c.logger.Warn("answer stream stopped early", "op", what, "finish_reason", finish)
	}
	return b.String(), nil
}

// render executes a prompt's system and user templates.
func render(t *template.Template, data any) ([]goopenai.ChatCompletionMessage, error) {
	var msgs []goopenai.ChatCompletionMessage
	for _, part := range []struct{ name, role string }{
		{"system", goopenai.ChatMessageRoleSystem},
		{"user", goopenai.ChatMessageRoleUser},
	} {
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, part.name, data); err != nil {
			return nil, fmt.Errorf("render prompt %s: %w", t.Name(), err)
		}
		msgs = append(msgs, goopenai.ChatCompletionMessage{Role: part.role, Content: strings.TrimSpace(b.String())})
	}
	return msgs, nil
}
