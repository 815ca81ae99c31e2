// Package members is Tocsin's member registry: the vocabulary of sectors,
// lanes, roles and aid capabilities; the validation of a tocsinv1.Member;
// the YAML seed format; and the Registry, which keeps the records in the
// cluster's MEMBERS key-value bucket with an in-process cache that a KV
// watcher keeps current, so the router can look a sender up for every
// message without a network round trip.
//
// # Seed format
//
// A seed file is a YAML list of members. Unknown fields are errors, every
// member needs a unique id, and each member is validated (see Validate):
//
//	# members.yaml
//	- id: ir-firm                          # required: lowercase letters, digits, dashes; starts with a letter; 1..63
//	  name: Beacon Incident Response       # required
//	  sectors: [health-it]                 # at least one, from the vocabulary (none for admin/service only)
//	  region: northeast                    # lowercase token (none for admin/service only)
//	  roles: [member, responder]           # member, responder, liaison, vendor, admin, service; at least one
//	  contact: "Hotline 24/7 +1-555-0150"  # optional; never in the public view
//	  publisher_namespace: https://zyx.example # vendors only, and required of them: their CSAF documents' publisher namespace
//	  capabilities:                        # responders only
//	    - type: incident-response          # from the vocabulary
//	      id: ir-firm/incident-response    # optional; default "<member id>/<type>"
//	      capacity: 4                      # units available at once, at least 1
//	      regions: [northeast]             # optional; empty means every region
//	      lead_time: 4h                    # optional Go duration, at least 0
//	      contact: "Dispatch +1-555-0151"  # optional; never in the public view
//	  keys:                                # optional: usually set when credentials are issued
//	    - public_key: UABC...              # NKey user public key
//	      not_before: 2025-01-01T00:00:00Z # optional RFC 3339 time
//	      not_after: 2025-06-01T00:00:00Z  # optional; unset on the current key only
//
// DemoSeed returns the demo cast of the St. Mary's scenario in this format
// (the file demo.yaml, embedded in the package).
package members
