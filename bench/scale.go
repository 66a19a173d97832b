package main

import (
	"fmt"
	"time"
)

// scale holds every size the figures use; BENCH_SCALE picks one.
type scale struct {
	Name string

	IngestDocs        int // documents in the ingest corpus
	ProviderNaiveDocs int // documents the naive path embeds through the simulated provider, one call per chunk

	MemSmall, MemBig int64 // sizes of the two streamed objects

	SearchChunks      int           // chunks in the search corpus
	SearchDocChunks   int           // chunks per search-corpus document
	SearchDuration    time.Duration // per measured run
	SearchWarmup      time.Duration // per run, not recorded
	SearchConcurrency int
	RecallQueries     int

	QueueJobs int

	CacheRequests     int // cached requests per kind
	UncachedSummaries int // distinct documents summarised from scratch
	UncachedAnswers   int // distinct questions answered from scratch
}

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

func scaleFor(name string) (scale, error) {
	s := scale{
		Name:              name,
		IngestDocs:        1000,
		ProviderNaiveDocs: 40,
		MemSmall:          10 * mib,
		MemBig:            1 * gib,
		SearchChunks:      100_000,
		SearchDocChunks:   100,
		SearchDuration:    30 * time.Second,
		SearchWarmup:      3 * time.Second,
		SearchConcurrency: 16,
		RecallQueries:     200,
		QueueJobs:         2000,
		CacheRequests:     1000,
		UncachedSummaries: 30,
		UncachedAnswers:   200,
	}
	switch name {
	case "default":
	case "small":
		// CI size: the whole run stays under three minutes.
		s.IngestDocs = 150
		s.ProviderNaiveDocs = 8
		s.MemBig = 128 * mib
		s.SearchChunks = 10_000
		s.SearchDuration = 5 * time.Second
		s.SearchWarmup = time.Second
		s.CacheRequests = 300
		s.UncachedSummaries = 10
		s.UncachedAnswers = 50
	case "curve":
		// The growth curve (curve.go): every point loads a corpus of its
		// own (-curve-points); IngestDocs documents are ingested into each.
		s.IngestDocs = 200
		s.SearchDuration = 10 * time.Second
		s.SearchWarmup = 2 * time.Second
	case "large":
		s.IngestDocs = 5000
		s.SearchChunks = 1_000_000
		s.SearchDocChunks = 200
	default:
		return s, fmt.Errorf("BENCH_SCALE must be small, default, large or curve, got %q", name)
	}
	return s, nil
}
