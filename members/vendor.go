package members

import (
	"net/url"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// publisherNamespace checks a vendor's publisher namespace: required of a
// vendor, refused on anyone else, an absolute https URI with a host and
// nothing after the path (the namespace of a CSAF document's publisher,
// which the router compares with it byte for byte).
func (v *validator) publisherNamespace(m *tocsinv1.Member) {
	ns, vendor := m.GetPublisherNamespace(), HasRole(m, tocsinv1.Role_ROLE_VENDOR)
	switch {
	case ns == "" && vendor:
		v.addf("publisher_namespace", "required of a vendor: the document.publisher.namespace of its CSAF advisories, such as \"https://zyx.example\"")
		return
	case ns == "":
		return
	case !vendor:
		v.addf("publisher_namespace", "only vendors have one: add the role vendor or remove it")
		return
	}
	u, err := url.Parse(ns)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		v.addf("publisher_namespace", "%q is not an absolute URI: give the publisher's https URL as its CSAF documents have it, such as \"https://zyx.example\"", ns)
	case u.Scheme != "https":
		v.addf("publisher_namespace", "%q is not an https URI: a vendor's namespace is its https URL, such as \"https://zyx.example\"", ns)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		v.addf("publisher_namespace", "%q has a user, query or fragment: give the namespace only, such as \"https://zyx.example\"", ns)
	}
}
