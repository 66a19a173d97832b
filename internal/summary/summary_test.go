package summary

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/worker"
)

// fakeStore is a document with sections, a section-summary cache and the
// summaries and jobs written.
type fakeStore struct {
	doc      protostar.Document
	deleted  bool
	sections []protostar.Section
	cached   map[string]string // section-summary cache by hash+length+model+prompt
	found    *protostar.Summary
	saved    []protostar.SummaryResult
	jobs     []protostar.Job
	canceled []string
}

func (f *fakeStore) Document(_ context.Context, tenantID, id string) (protostar.Document, error) {
	if tenantID != f.doc.TenantID || id != f.doc.ID {
		return protostar.Document{}, protostar.Errorf(protostar.ENOTFOUND, "document not found")
	}
	return f.doc, nil
}

func (f *fakeStore) FindSummary(context.Context, string, string, string, string, string, string) (protostar.Summary, error) {
	if f.found == nil {
		return protostar.Summary{}, protostar.Errorf(protostar.ENOTFOUND, "no summary")
	}
	return *f.found, nil
}

func (f *fakeStore) LatestSummary(context.Context, string, string, string) (protostar.Summary, error) {
	return protostar.Summary{}, nil
}

func (f *fakeStore) CreateJob(_ context.Context, j protostar.Job, _ int) (protostar.Job, error) {
	j.ID = fmt.Sprintf("job-%d", len(f.jobs)+1)
	f.jobs = append(f.jobs, j)
	return j, nil
}

func (f *fakeStore) DocumentByID(context.Context, string) (protostar.Document, bool, error) {
	return f.doc, f.deleted, nil
}

func (f *fakeStore) CancelJob(_ context.Context, id, _ string) error {
	f.canceled = append(f.canceled, id)
	return nil
}

func (f *fakeStore) Sections(_ context.Context, _ string, _ int, withText bool, fn func(protostar.Section) error) error {
	for _, s := range f.sections {
		if !withText {
			s.Text = ""
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func sectionKey(hash []byte, length, model, pv string) string {
	return strings.Join([]string{string(hash), length, model, pv}, "|")
}

func (f *fakeStore) SectionSummary(_ context.Context, _, _ string, hash []byte, length, model, pv string) (string, bool, error) {
	s, ok := f.cached[sectionKey(hash, length, model, pv)]
	return s, ok, nil
}

func (f *fakeStore) SaveSectionSummary(_ context.Context, _, _ string, hash []byte, length, model, pv, summary string) error {
	f.cached[sectionKey(hash, length, model, pv)] = summary
	return nil
}

func (f *fakeStore) SaveSummary(_ context.Context, _ protostar.Job, s protostar.Summary, res protostar.SummaryResult) (protostar.Summary, error) {
	f.saved = append(f.saved, res)
	return s, nil
}

// fakeGen summarises by prefixing, so rounds are visible in the output.
type fakeGen struct{ calls, reduces int }

func (g *fakeGen) Summarize(_ context.Context, in protostar.SummaryInput) (string, error) {
	g.calls++
	if in.Reduce {
		g.reduces++
		return fmt.Sprintf("R(%d)", strings.Count(in.Text, "\n")+1), nil
	}
	return "S:" + in.Text, nil
}
func (g *fakeGen) Model() string         { return "fake" }
func (g *fakeGen) PromptVersion() string { return "v1" }

type fakeCache map[string][]byte

func (c fakeCache) Get(_ context.Context, key string) ([]byte, bool) { v, ok := c[key]; return v, ok }
func (c fakeCache) Set(_ context.Context, key string, value []byte)  { c[key] = value }

type fakeDisp struct{ dispatched []protostar.Job }

func (d *fakeDisp) Dispatch(_ context.Context, j protostar.Job) {
	d.dispatched = append(d.dispatched, j)
}

func setup(t *testing.T, sections int) (*fakeStore, *fakeGen, fakeCache) {
	t.Helper()
	st := &fakeStore{doc: protostar.Document{ID: "d1", TenantID: "t1", IndexedVersion: 2, ContentHash: "h2", Status: "ready"},
		cached: map[string]string{}}
	for i := range sections {
		st.sections = append(st.sections, protostar.Section{Hash: []byte(fmt.Sprint("h", i)), HeadingPath: []string{fmt.Sprint("s", i)}, Text: fmt.Sprint("text ", i)})
	}
	return st, &fakeGen{}, fakeCache{}
}

func job() protostar.Job {
	return protostar.Job{ID: "j1", TenantID: "t1", DocumentID: "d1", Type: protostar.JobSummary, Params: json.RawMessage(`{"length":"short"}`)}
}

// TestSummarizeMapReduce: every section is summarised once, then reduced
// in groups of reduceGroup, in as many rounds as it takes.
func TestSummarizeMapReduce(t *testing.T) {
	tests := []struct {
		sections, wantReduces int
		wantText              string
	}{
		{0, 0, ""},
		{1, 0, "S:text 0"},
		{2, 1, "R(2)"},
		{reduceGroup, 1, "R(16)"},
		{reduceGroup + 1, 3, "R(2)"},              // 16+1 → 2 partials → 1
		{reduceGroup*reduceGroup + 1, 20, "R(2)"}, // 257 → 17 → 2 → 1
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.sections, " sections"), func(t *testing.T) {
			st, gen, cache := setup(t, tt.sections)
			h := NewHandler(st, gen, cache, nil, nil)
			if err := h.summarize(context.Background(), job(), &worker.Progress{}); err != nil {
				t.Fatal(err)
			}
			if gen.reduces != tt.wantReduces || gen.calls != tt.sections+tt.wantReduces {
				t.Errorf("%d calls, %d reduces; want %d, %d", gen.calls, gen.reduces, tt.sections+tt.wantReduces, tt.wantReduces)
			}
			res := st.saved[0]
			if res.SectionsTotal != tt.sections || res.SectionsSummarized != tt.sections || res.GeneratorCalls != gen.calls {
				t.Errorf("result %+v", res)
			}
			var sum protostar.Summary
			raw, ok := cache[cacheKey(gen, "t1", "d1", "h2", "short")]
			if !ok || json.Unmarshal(raw, &sum) != nil || sum.Text != tt.wantText {
				t.Errorf("cached summary %q (cached %v), want %q", sum.Text, ok, tt.wantText)
			}
		})
	}
}

// TestSummarizeReusesSectionSummaries: a second run over the same sections
// calls the generator only for the reduce.
func TestSummarizeReusesSectionSummaries(t *testing.T) {
	st, gen, cache := setup(t, 3)
	h := NewHandler(st, gen, cache, nil, nil)
	for range 2 {
		if err := h.summarize(context.Background(), job(), &worker.Progress{}); err != nil {
			t.Fatal(err)
		}
	}
	second := st.saved[1]
	if second.SectionsReused != 3 || second.SectionsSummarized != 0 || second.GeneratorCalls != 1 {
		t.Errorf("second run %+v; want 3 reused, 0 summarised, 1 call (the reduce)", second)
	}
}

// TestSummarizeDeletedDocumentCancels: a job whose document went away is
// canceled, not failed or retried.
func TestSummarizeDeletedDocumentCancels(t *testing.T) {
	st, gen, cache := setup(t, 3)
	st.deleted = true
	if err := NewHandler(st, gen, cache, nil, nil).summarize(context.Background(), job(), &worker.Progress{}); err != nil {
		t.Fatal(err)
	}
	if len(st.canceled) != 1 || gen.calls != 0 {
		t.Errorf("canceled %v after %d generator calls", st.canceled, gen.calls)
	}
}

// TestRequest: what the API side answers for each state.
func TestRequest(t *testing.T) {
	existing := &protostar.Summary{DocumentID: "d1", Text: "done"}
	tests := []struct {
		name     string
		length   string
		tenant   string
		indexed  int
		found    *protostar.Summary
		wantCode string
		wantJob  bool
	}{
		{"invalid length", "huge", "t1", 2, nil, protostar.EINVALID, false},
		{"other tenant's document", "short", "t2", 2, nil, protostar.ENOTFOUND, false},
		{"not indexed yet", "short", "t1", 0, nil, protostar.ECONFLICT, false},
		{"exists", "short", "t1", 2, existing, "", false},
		{"starts a job", "short", "t1", 2, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, gen, cache := setup(t, 1)
			st.doc.IndexedVersion, st.found = tt.indexed, tt.found
			disp := &fakeDisp{}
			sum, j, err := NewRequester(st, gen, cache, disp, Config{MaxAttempts: 3}).Request(context.Background(), tt.tenant, "d1", tt.length)
			if tt.wantCode != "" {
				if protostar.ErrorCode(err) != tt.wantCode {
					t.Fatalf("error %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantJob != (j != nil) || tt.wantJob == (sum != nil) {
				t.Fatalf("summary %v, job %v; want a job %v", sum, j, tt.wantJob)
			}
			if tt.wantJob && (len(disp.dispatched) != 1 || j.Version != 2 || j.MaxAttempts != 3) {
				t.Errorf("job %+v, dispatched %d", j, len(disp.dispatched))
			}
		})
	}
}
