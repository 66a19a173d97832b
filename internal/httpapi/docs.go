package httpapi

import (
	_ "embed"
	"net/http"
)

//go:embed docs.html
var docsHTML []byte

// docsPage serves a self-contained API reference that renders
// /openapi.json with no assets from the internet.
func docsPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(docsHTML)
}
