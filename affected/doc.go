// Package affected answers a hospital's question when a medical-device
// advisory is published: "do we run it, where, and what do we do?". It
// reads the member's own inventory (a CycloneDX or SPDX 2.3 JSON SBOM, or
// the plain CSV of devices most hospitals keep) and matches it against a
// CSAF 2.0 document's product tree and product statuses, inside the
// member's walls: nothing of the inventory leaves this package but the
// findings the agent writes to its own sinks.
//
// Matching: a product with a purl or CPE is matched by it; otherwise by
// vendor, product name and version, with the product tree's version
// ranges (vers, and the free-text forms CISA's advisories use, see
// ParseRange) and an alias table the member can extend. The document's
// VEX statuses decide: known_affected and under_investigation match,
// fixed and known_not_affected do not. A range that cannot be read marks
// the row possibly_affected with the reason: never a silent miss.
package affected
