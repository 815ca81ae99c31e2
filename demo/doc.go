// Package demo plays "the night St. Mary's went down" (../shared/SCENARIO.md)
// against a cluster of its own: three nodes in this process with the demo
// members, a real agent for every member organisation writing to its own
// JSONL feed, STIX folder and webhook, and every step of the story sent as
// the tocsin command a user would type. It also does, on purpose, what goes
// wrong on such a night: an agent offline and catching up, a node going
// down, a malformed bundle, a TLP:RED note for two responders, a revoked
// member's credentials. After each step it checks the outcome in the
// cluster's own state (streams, buckets, the agents' sinks) and says what
// each party now has; a step whose outcome is not what the story says ends
// the run with an error.
package demo
