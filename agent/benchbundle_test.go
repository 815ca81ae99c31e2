package agent

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsin-project/tocsin/internal/ids"
)

// benchBundle is a STIX bundle with one indicator for domain, marked.
func benchBundle(domain, marking string) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	ind := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--" + ids.V4(), "created": now, "modified": now,
		"name": "C2 domain " + domain, "pattern": fmt.Sprintf("[domain-name:value = '%s']", domain), "pattern_type": "stix",
		"valid_from": now, "object_marking_refs": []string{marking},
	}
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": []any{ind}})
	return data
}
