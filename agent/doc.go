// Package agent is the member agent, `tocsin agent`: it reads what the
// cluster routed to one member organisation (the alerts and advisories of
// its sectors, its direct inbox with sighting summaries), verifies every
// message itself, writes the verified ones into the organisation's own
// tools (sinks: a JSONL file, a webhook, a folder of STIX bundles) and
// answers with signed receipts.
//
// # Delivery guarantees
//
// Nothing is acknowledged to JetStream before every sink holds it durably
// (fsync) and its receipt is in the on-disk outbox, and every sink is
// idempotent by message id, so an agent that was stopped, killed or cut off
// catches up with nothing missing and nothing twice. What fails
// verification goes to a local quarantine file with a reason code and is
// acknowledged: it is never retried forever and never reaches a sink.
//
// # Consumers
//
// Each member reads through named R1 durable pull consumers that Tocsin
// creates ("<member>-<sector>" on SECTORS, "<member>-inbox" on INBOX). The
// agent records in its state directory the last stream sequence it wrote
// for each; when the node holding a consumer is lost, the agent asks the
// cluster's Service (subject ConsumerSubject) to create it again from that
// sequence + 1. DESIGN.md in this directory records why.
//
// # Service side
//
// Service answers, on every node, the two requests an agent makes besides
// reading its consumers: the public member directory (DirectorySubject),
// which the agent verifies signatures against, and the re-creation of a
// lost consumer (ConsumerSubject).
package agent
