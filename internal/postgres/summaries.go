package postgres

import (
	"context"
	"crypto/sha256"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

const summaryColumns = `id, tenant_id, document_id, version, content_hash, length, model, prompt_version, summary, sections, created_at`

func scanSummary(row pgx.Row) (protostar.Summary, error) {
	var s protostar.Summary
	err := row.Scan(&s.ID, &s.TenantID, &s.DocumentID, &s.Version, &s.ContentHash, &s.Length, &s.Model,
		&s.PromptVersion, &s.Text, &s.Sections, &s.CreatedAt)
	return s, err
}

// FindSummary returns the summary of exactly this content, length, model
// and prompt version, or ENOTFOUND.
func (db *DB) FindSummary(ctx context.Context, tenantID, documentID, contentHash, length, model, promptVersion string) (protostar.Summary, error) {
	s, err := scanSummary(db.pool.QueryRow(ctx, `SELECT `+summaryColumns+` FROM summaries
		WHERE tenant_id = $1 AND document_id = $2 AND content_hash = $3 AND length = $4 AND model = $5 AND prompt_version = $6`,
		tenantID, documentID, contentHash, length, model, promptVersion))
	return s, translate(err, "find summary")
}

// LatestSummary returns the newest summary of the document, of the given
// length if it is not empty, or ENOTFOUND.
func (db *DB) LatestSummary(ctx context.Context, tenantID, documentID, length string) (protostar.Summary, error) {
	if !validUUID(documentID) {
		return protostar.Summary{}, documentNotFound(documentID)
	}
	s, err := scanSummary(db.pool.QueryRow(ctx, `SELECT `+summaryColumns+` FROM summaries s
		WHERE tenant_id = $1 AND document_id = $2 AND ($3 = '' OR length = $3)
		  AND EXISTS (SELECT 1 FROM documents d WHERE d.id = s.document_id AND d.deleted_at IS NULL)
		ORDER BY created_at DESC LIMIT 1`, tenantID, documentID, length))
	return s, notFoundAs(translate(err, "latest summary"),
		protostar.Errorf(protostar.ENOTFOUND, "document %q has no summary yet", documentID))
}

// maxSectionChunks caps a section so a document without headings still
// maps in bounded pieces.
const maxSectionChunks = 24

// Sections streams the sections of a document version in order: runs of
// chunks sharing their first two heading levels, at most maxSectionChunks
// each. Without text, only hashes and paths are read (for counting).
func (db *DB) Sections(ctx context.Context, documentID string, version int, withText bool, fn func(protostar.Section) error) error {
	rows, err := db.pool.Query(ctx, `SELECT heading_path, content_hash, CASE WHEN $3 THEN text ELSE '' END
		FROM chunks WHERE document_id = $1 AND version = $2 ORDER BY ordinal`, documentID, version, withText)
	if err != nil {
		return translate(err, "read sections")
	}
	defer rows.Close()
	var (
		cur   []string
		h     = sha256.New()
		text  strings.Builder
		n     int
		flush = func() error {
			if n == 0 {
				return nil
			}
			sec := protostar.Section{Hash: h.Sum(nil), HeadingPath: cur, Text: text.String()}
			h.Reset()
			text.Reset()
			n = 0
			return fn(sec)
		}
	)
	for rows.Next() {
		var (
			path []string
			hash []byte
			body string
		)
		if err := rows.Scan(&path, &hash, &body); err != nil {
			return translate(err, "scan section chunk")
		}
		key := path[:min(2, len(path))]
		if n > 0 && (!slices.Equal(key, cur) || n >= maxSectionChunks) {
			if err := flush(); err != nil {
				return err
			}
		}
		cur = key
		h.Write(hash)
		if withText {
			text.WriteString(body)
			text.WriteString("\n\n")
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return translate(err, "read sections")
	}
	return flush()
}

// SectionSummary returns a cached map-step summary, if there is one, and
// records that documentID uses it.
func (db *DB) SectionSummary(ctx context.Context, tenantID, documentID string, hash []byte, length, model, promptVersion string) (string, bool, error) {
	var s string
	err := db.pool.QueryRow(ctx, `WITH s AS (
			SELECT summary FROM section_summaries
			WHERE tenant_id = $1 AND section_hash = $2 AND length = $3 AND model = $4 AND prompt_version = $5),
		used AS (
			INSERT INTO section_summary_users (tenant_id, section_hash, document_id)
			SELECT $1, $2, $6 WHERE EXISTS (SELECT 1 FROM s) ON CONFLICT DO NOTHING)
		SELECT summary FROM s`,
		tenantID, hash, length, model, promptVersion, documentID).Scan(&s)
	if err == pgx.ErrNoRows {
		return "", false, nil
	}
	return s, err == nil, translate(err, "read section summary")
}

// SaveSectionSummary caches a map-step summary of a section of documentID.
func (db *DB) SaveSectionSummary(ctx context.Context, tenantID, documentID string, hash []byte, length, model, promptVersion, summary string) error {
	_, err := db.pool.Exec(ctx, `WITH saved AS (
			INSERT INTO section_summaries (tenant_id, section_hash, length, model, prompt_version, summary)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING)
		INSERT INTO section_summary_users (tenant_id, section_hash, document_id) VALUES ($1, $2, $7)
		ON CONFLICT DO NOTHING`, tenantID, hash, length, model, promptVersion, summary, documentID)
	return translate(err, "save section summary")
}

// SaveSummary stores a document summary and finishes its job in one
// transaction.
func (db *DB) SaveSummary(ctx context.Context, j protostar.Job, s protostar.Summary, res protostar.SummaryResult) (protostar.Summary, error) {
	var out protostar.Summary
	err := db.inTx(ctx, "save summary", func(tx pgx.Tx) error {
		if err := fenceJob(ctx, tx, j); err != nil {
			return err
		}
		var err error
		out, err = scanSummary(tx.QueryRow(ctx, `INSERT INTO summaries
				(id, tenant_id, document_id, version, content_hash, length, model, prompt_version, summary, sections)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (document_id, content_hash, length, model, prompt_version)
			DO UPDATE SET summary = EXCLUDED.summary, sections = EXCLUDED.sections, version = EXCLUDED.version, created_at = now()
			RETURNING `+summaryColumns,
			uuid.New(), s.TenantID, s.DocumentID, s.Version, s.ContentHash, s.Length, s.Model, s.PromptVersion, s.Text, s.Sections))
		if err != nil {
			return err
		}
		if err := succeedJob(ctx, tx, j.ID, res, res.SectionsTotal); err != nil {
			return err
		}
		return emit(ctx, tx, j.TenantID, protostar.EventSummaryReady, toSubscribers, "", func() (protostar.EventData, error) {
			return protostar.EventData{Summary: &out}, nil
		})
	})
	return out, err
}
