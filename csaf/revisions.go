package csaf

import (
	"slices"
	"time"
)

// revision is one item of the revision history.
type revision struct {
	i    int // index in the document
	date time.Time
	ok   bool // the date parsed
	num  version
}

const historyPath = "/document/tracking/revision_history"

// history returns the revision history sorted ascending by date, items of
// the same date by number.
func (d *doc) history() []revision {
	var out []revision
	for i, r := range arr(obj(d.document, "tracking"), "revision_history") {
		t, err := time.Parse(time.RFC3339Nano, str(r, "date"))
		out = append(out, revision{i: i, date: t, ok: err == nil, num: parseVersion(str(r, "number"))})
	}
	slices.SortStableFunc(out, func(a, b revision) int {
		if c := a.date.Compare(b.date); c != 0 {
			return c
		}
		return compareVersions(a.num, b.num)
	})
	return out
}

func (d *doc) tracking() map[string]any { return obj(d.document, "tracking") }

// docVersion is /document/tracking/version.
func (d *doc) docVersion() version { return parseVersion(str(d.tracking(), "version")) }

// status is /document/tracking/status.
func (d *doc) status() string { return str(d.tracking(), "status") }

func (d *doc) sortedRevisions() {
	h := d.history()
	for k := 1; k < len(h); k++ {
		if compareVersions(h[k-1].num, h[k].num) > 0 {
			d.fail("6.1.14", at(historyPath, h[k].i), "revision %s is dated after revision %s but has the lower number: number the revisions in the order of their dates", h[k-1].num.raw, h[k].num.raw)
		}
	}
}

func (d *doc) latestVersion() {
	h := d.history()
	if len(h) == 0 {
		return
	}
	draft := d.status() == "draft"
	last, v := h[len(h)-1].num, d.docVersion()
	if last.core(draft) != v.core(draft) {
		d.fail("6.1.16", "/document/tracking/version", "the document version is %s but the latest revision (by date) is %s: they must be the same", v.raw, last.raw)
	}
}

func (d *doc) statusDraft() {
	v := d.docVersion()
	if st := d.status(); st != "draft" && (v.zero() || v.pre != "") {
		d.fail("6.1.17", "/document/tracking/status", "the document version is %s, a pre-release, but the status is %q: set the status to draft, or release the version", v.raw, st)
	}
}

func (d *doc) releasedRevisions() {
	if st := d.status(); st != "final" && st != "interim" {
		return
	}
	for _, r := range d.history() {
		if r.num.zero() {
			d.fail("6.1.18", at(historyPath, r.i, "number"), "revision %s is a draft version (0 or 0.y.z) in a %s document: remove it from the revision history", r.num.raw, d.status())
		}
	}
}

func (d *doc) prereleaseRevisions() {
	for _, r := range d.history() {
		if r.num.pre != "" {
			d.fail("6.1.19", at(historyPath, r.i, "number"), "revision %s is a pre-release: the revision history holds released versions only", r.num.raw)
		}
	}
}

func (d *doc) nonDraftVersion() {
	v := d.docVersion()
	if st := d.status(); (st == "final" || st == "interim") && v.pre != "" {
		d.fail("6.1.20", "/document/tracking/version", "the document is %s but its version %s has the pre-release part -%s: remove it, or set the status to draft", st, v.raw, v.pre)
	}
}

func (d *doc) missingRevision() {
	h := d.history()
	if len(h) == 0 || !h[0].num.ok {
		return
	}
	if m := h[0].num.major(); m > 1 {
		d.fail("6.1.21", at(historyPath, h[0].i, "number"), "the first revision is %s: the history starts at version 0 or 1 (major version for semantic versioning)", h[0].num.raw)
	}
	for k := 1; k < len(h); k++ {
		if !h[k].num.ok || !h[k-1].num.ok {
			continue
		}
		if prev, cur := h[k-1].num.major(), h[k].num.major(); cur > prev+1 {
			d.fail("6.1.21", at(historyPath, h[k].i, "number"), "revision %s follows %s: the versions in between are missing from the revision history", h[k].num.raw, h[k-1].num.raw)
		}
	}
}

func (d *doc) multipleRevision() {
	seen := map[string]bool{}
	for i, r := range arr(d.tracking(), "revision_history") {
		n := str(r, "number")
		if seen[n] {
			d.fail("6.1.22", at(historyPath, i, "number"), "version %s appears twice in the revision history: give each revision its own number", n)
		}
		seen[n] = true
	}
}

func (d *doc) mixedVersioning() {
	v := d.docVersion()
	for i, r := range arr(d.tracking(), "revision_history") {
		n := parseVersion(str(r, "number"))
		if n.ok && v.ok && n.semantic != v.semantic {
			d.fail("6.1.30", at(historyPath, i, "number"), "revision %s and the document version %s mix integer and semantic versioning: use one scheme throughout", n.raw, v.raw)
		}
	}
}
