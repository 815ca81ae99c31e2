package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeLinksEveryDoc: the README links every document under docs/
// (each page, the record's schema, the history folder) and deploy's README,
// so a new page cannot go unfound.
func TestReadmeLinksEveryDoc(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{"docs/history/", "deploy/README.md"}
	for _, pattern := range []string{"docs/*.md", "docs/schemas/*.json"} {
		found, err := filepath.Glob(filepath.Join("..", "..", pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			rel, _ := filepath.Rel(filepath.Join("..", ".."), f)
			docs = append(docs, filepath.ToSlash(rel))
		}
	}
	for _, d := range docs {
		if !strings.Contains(string(readme), "]("+d+")") {
			t.Errorf("README.md does not link %s: add it to Learn more", d)
		}
	}
}
