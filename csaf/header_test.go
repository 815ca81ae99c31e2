package csaf

import (
	"testing"

	"github.com/tocsin-project/tocsin/tlp"
)

// ReadHeader reads a CSAF document's title, summary note, publisher
// namespace and TLP (TLP 1.0's
// WHITE as CLEAR) and knows a STIX bundle is not one.
func TestReadHeader(t *testing.T) {
	doc := []byte(`{"document":{"csaf_version":"2.0","title":"T","distribution":{"tlp":{"label":"WHITE"}},
		"publisher":{"category":"vendor","name":"ZYX","namespace":"https://zyx.example"},
		"notes":[{"category":"general","text":"g"},{"category":"summary","text":"s"}]}}`)
	h, ok := ReadHeader(doc)
	if !ok || h.Title != "T" || h.Summary != "s" || h.TLP != "WHITE" || h.Namespace != "https://zyx.example" {
		t.Fatalf("header %+v ok %v", h, ok)
	}
	if l, has, err := h.Level(); l != tlp.Clear || !has || err != nil {
		t.Errorf("WHITE: level %v has %v err %v, want clear", l, has, err)
	}
	for label, want := range map[string]tlp.Level{"GREEN": tlp.Green, "AMBER": tlp.Amber, "RED": tlp.Red} {
		if l, has, err := (Header{TLP: label}).Level(); l != want || !has || err != nil {
			t.Errorf("%s: level %v has %v err %v", label, l, has, err)
		}
	}
	if _, has, err := (Header{}).Level(); has || err != nil {
		t.Errorf("no label: has %v err %v", has, err)
	}
	if _, _, err := (Header{TLP: "PURPLE"}).Level(); err == nil {
		t.Error("PURPLE: no error")
	}
	for _, s := range []string{`{"type":"bundle","id":"bundle--1","objects":[]}`, `{"document":{"title":"no version"}}`, `[1]`, `not json`} {
		if _, ok := ReadHeader([]byte(s)); ok {
			t.Errorf("%s read as a CSAF document", s)
		}
	}
}
