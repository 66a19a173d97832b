package postgres

// VectorSearchSQL exposes VectorSearch's statement to the tests, which
// EXPLAIN it.
var VectorSearchSQL = vectorSearchSQL
