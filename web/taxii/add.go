package taxii

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/relay"
)

// Request headers a POST may carry besides the bundle: what TAXII has no
// field for.
const (
	// HeaderLane is the alert's lane: flash, urgent, routine (default), info.
	HeaderLane = "X-Tocsin-Lane"
	// HeaderRecipients names recipient organisations, comma-separated
	// (required for AMBER+STRICT and RED).
	HeaderRecipients = "X-Tocsin-Recipients"
	// HeaderTitle is the alert's title; default the first named object's
	// name.
	HeaderTitle = "X-Tocsin-Title"
	// HeaderExercise "true" marks the alert as an exercise.
	HeaderExercise = "X-Tocsin-Exercise"
)

// add is POST collections/{id}/objects/: the bundle becomes an alert of
// the caller to the collection's sector, signed by this node on its
// behalf (via "taxii"), with the TLP of the bundle's markings.
func (s *Server) add(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	c, ok := findCollection(m, r.PathValue("collection"))
	if !ok {
		fail(w, http.StatusNotFound, "no such collection", "no collection "+r.PathValue("collection")+" that you may read")
		return
	}
	if !c.CanWrite {
		fail(w, http.StatusForbidden, "collection not writable", "POST to one of your sector collections to alert that sector")
		return
	}
	kind := bodyKind(r)
	if kind == "" {
		fail(w, http.StatusUnsupportedMediaType, "unsupported media type", "POST "+MediaTAXII+" (an envelope) or "+MediaSTIX+" (a bundle)")
		return
	}
	if r.ContentLength > s.opts.MaxContentLength {
		fail(w, http.StatusRequestEntityTooLarge, "too large", fmt.Sprintf("the body is %d bytes; max_content_length is %d", r.ContentLength, s.opts.MaxContentLength))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxContentLength))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		fail(w, http.StatusRequestEntityTooLarge, "too large", fmt.Sprintf("max_content_length is %d bytes", s.opts.MaxContentLength))
		return
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "unreadable body", err.Error())
		return
	}
	bundle, refs, err := asBundle(body)
	if err != nil {
		fail(w, http.StatusBadRequest, "bad body", err.Error())
		return
	}
	alert, status, err := s.alertOf(r, c, bundle, refs)
	if err != nil {
		fail(w, status, "refused", err.Error())
		return
	}
	id := envelope.NewID()
	rec := statusRecord{Requested: time.Now().UTC(), Objects: refs}
	if err := s.saveStatus(r.Context(), m.GetId(), id, rec); err != nil {
		fail(w, http.StatusServiceUnavailable, "cannot record the request", err.Error())
		return
	}
	if _, err := s.d.Relay.Publish(r.Context(), m.GetId(), tocsinv1.Kind_KIND_ALERT, alert, relay.ViaTAXII, envelope.WithID(id)); err != nil {
		fail(w, http.StatusServiceUnavailable, "cannot publish", err.Error())
		return
	}
	s.log.Info("taxii submission", zap.String("member", m.GetId()), zap.String("id", id), zap.Int("objects", len(refs)), zap.String("tlp", alert.GetTlp().String()))
	o, err := s.d.Relay.WaitOutcome(r.Context(), m.GetId(), id, s.opts.PostWait)
	if err != nil {
		o = nil
	}
	writeJSON(w, http.StatusAccepted, buildStatus(id, rec, o))
}

// asBundle reads a POSTed body, a bundle or a TAXII envelope, as a bundle,
// with its objects' ids and versions.
func asBundle(body []byte) ([]byte, []objectRef, error) {
	var doc struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("the body is not JSON: %v", err)
	}
	if len(doc.Objects) == 0 {
		return nil, nil, errors.New("no objects: send a bundle or an envelope with at least one STIX object")
	}
	bundle := body
	if doc.Type != "bundle" {
		if doc.Type != "" {
			return nil, nil, fmt.Errorf("a %q is neither a bundle nor an envelope", doc.Type)
		}
		bundle, _ = json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": doc.Objects})
	}
	refs := make([]objectRef, 0, len(doc.Objects))
	for _, raw := range doc.Objects {
		var o struct{ ID, Modified, Created string }
		_ = json.Unmarshal(raw, &o)
		v := o.Modified
		if v == "" {
			v = o.Created
		}
		refs = append(refs, objectRef{ID: o.ID, Version: v})
	}
	return bundle, refs, nil
}

// alertOf builds the alert; on error it returns the HTTP status to answer.
func (s *Server) alertOf(r *http.Request, c collection, bundle []byte, refs []objectRef) (*tocsinv1.Alert, int, error) {
	if s.d.Validator == nil {
		return nil, http.StatusServiceUnavailable, errors.New("this node was built without the STIX schemas and cannot read markings")
	}
	res, err := s.d.Validator.ValidateBundle(bundle)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	if !res.TLPMarked {
		return nil, http.StatusUnprocessableEntity, errors.New("the bundle carries no TLP marking: mark its objects (object_marking_refs) with a TLP 2.0 marking-definition; Tocsin never guesses a TLP")
	}
	lane := strings.ToLower(strings.TrimSpace(r.Header.Get(HeaderLane)))
	if lane == "" {
		lane = "routine"
	}
	l, ok := tocsinv1.Lane_value["LANE_"+strings.ToUpper(lane)]
	if !ok || l == 0 {
		return nil, http.StatusBadRequest, fmt.Errorf("%s %q: use flash, urgent, routine or info", HeaderLane, lane)
	}
	var recipients []string
	for part := range strings.SplitSeq(r.Header.Get(HeaderRecipients), ",") {
		if part = strings.TrimSpace(part); part != "" {
			recipients = append(recipients, part)
		}
	}
	title := strings.TrimSpace(r.Header.Get(HeaderTitle))
	if title == "" {
		title = titleOf(bundle)
	}
	return &tocsinv1.Alert{
		Title: title, Lane: tocsinv1.Lane(l), Sectors: []string{c.of.Sector}, Recipients: recipients,
		Tlp: res.TLP.Proto(), StixBundle: bundle, Exercise: strings.EqualFold(r.Header.Get(HeaderExercise), "true"),
	}, 0, nil
}

// titleOf is the name of the bundle's first report, else of its first
// named object, else a generic title.
func titleOf(bundle []byte) string {
	var b struct {
		Objects []struct{ Type, Name string } `json:"objects"`
	}
	_ = json.Unmarshal(bundle, &b)
	name := ""
	for _, o := range b.Objects {
		if o.Type == "report" && o.Name != "" {
			return o.Name
		}
		if name == "" {
			name = o.Name
		}
	}
	if name == "" {
		return "TAXII submission"
	}
	return name
}
