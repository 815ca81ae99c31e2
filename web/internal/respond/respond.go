// Package respond writes the web face's JSON answers.
package respond

import (
	"encoding/json"
	"net/http"
)

// JSON answers v with the status and media type, never cached.
func JSON(w http.ResponseWriter, status int, mediaType string, v any) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
