-- +goose Up
-- The W3C traceparent of the request that accepted a job, so the worker's
-- span continues that trace however often the job is dispatched again.
ALTER TABLE jobs ADD COLUMN trace_parent text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN trace_parent;
