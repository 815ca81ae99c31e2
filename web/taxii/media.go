package taxii

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/tocsin-project/tocsin/web/internal/respond"
)

// Media types (TAXII 2.1, section 1.6.8).
const (
	// MediaTAXII is every TAXII resource.
	MediaTAXII = "application/taxii+json;version=2.1"
	// MediaSTIX is a STIX bundle or object.
	MediaSTIX = "application/stix+json;version=2.1"
)

// acceptable reports whether the Accept header allows a TAXII 2.1
// resource. A request without Accept is served.
func acceptable(r *http.Request) bool {
	h := r.Header.Values("Accept")
	if len(h) == 0 {
		return true
	}
	for _, part := range strings.Split(strings.Join(h, ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		switch mt {
		case "*/*", "application/*":
			return true
		case "application/taxii+json":
			if v, ok := params["version"]; !ok || v == "2.1" {
				return true
			}
		}
	}
	return false
}

// bodyKind is what a POSTed body is, by its Content-Type; "" when the
// type is not supported (415).
func bodyKind(r *http.Request) string {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	if v, ok := params["version"]; ok && v != "2.1" {
		return ""
	}
	switch mt {
	case "application/taxii+json":
		return "envelope"
	case "application/stix+json":
		return "bundle"
	}
	return ""
}

// taxiiError is TAXII's error message resource.
type taxiiError struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

// fail writes a TAXII error resource.
func fail(w http.ResponseWriter, status int, title, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="tocsin", Bearer realm="tocsin"`)
	}
	writeJSON(w, status, taxiiError{Title: title, Description: description, HTTPStatus: strconv.Itoa(status)})
}

// writeJSON writes v as a TAXII resource.
func writeJSON(w http.ResponseWriter, status int, v any) { respond.JSON(w, status, MediaTAXII, v) }
