package csaf

import (
	"encoding/json"
	"fmt"

	"github.com/tocsin-project/tocsin/tlp"
)

// Header is what a channel needs of a CSAF document to carry it.
type Header struct {
	// Title is document.title.
	Title string
	// Summary is the text of the first document note of category summary.
	Summary string
	// TLP is document.distribution.tlp.label as written (TLP 1.0: WHITE,
	// GREEN, AMBER, RED); empty when the document has none.
	TLP string
	// Namespace is document.publisher.namespace, as written.
	Namespace string
}

// ReadHeader reads doc's title, summary note, TLP label and publisher
// namespace. ok is false
// when doc is not a JSON object whose document has a csaf_version: then it
// is not a CSAF document (a STIX bundle, say).
func ReadHeader(doc []byte) (h Header, ok bool) {
	var d struct {
		Document *struct {
			CSAFVersion *string `json:"csaf_version"`
			Title       string  `json:"title"`
			Publisher   struct {
				Namespace string `json:"namespace"`
			} `json:"publisher"`
			Distribution struct {
				TLP struct {
					Label string `json:"label"`
				} `json:"tlp"`
			} `json:"distribution"`
			Notes []struct {
				Category string `json:"category"`
				Text     string `json:"text"`
			} `json:"notes"`
		} `json:"document"`
	}
	if json.Unmarshal(doc, &d) != nil || d.Document == nil || d.Document.CSAFVersion == nil {
		return Header{}, false
	}
	h = Header{Title: d.Document.Title, TLP: d.Document.Distribution.TLP.Label, Namespace: d.Document.Publisher.Namespace}
	for _, n := range d.Document.Notes {
		if n.Category == "summary" {
			h.Summary = n.Text
			break
		}
	}
	return h, true
}

// Level is the header's TLP in TLP 2.0 (WHITE is CLEAR, as for STIX); has
// is false when the document carries no TLP label.
func (h Header) Level() (l tlp.Level, has bool, err error) {
	if h.TLP == "" {
		return 0, false, nil
	}
	l, ok := tlp.FromName(h.TLP)
	if !ok {
		return 0, true, fmt.Errorf("document.distribution.tlp.label %q is not a TLP label (WHITE, GREEN, AMBER or RED): %w", h.TLP, tlp.ErrUnknownTLP)
	}
	return l, true, nil
}
