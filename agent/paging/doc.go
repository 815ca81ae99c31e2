// Package paging wakes a person: the agent's escalation of the messages
// that need one, on the member's side.
//
// A Pager takes the messages its Policy says page (by default every flash
// alert and every flash or urgent advisory; exercises only when the policy
// says so), stores each as a page in its state directory before it
// returns, and then runs the policy's steps in order: the first at once,
// each next one when the step before it has gone unacknowledged for its
// delay. A step sends on one Channel (PagerDuty Events API v2, e-mail over
// SMTP, the agent's signed webhook). An acknowledgement, from the console,
// `tocsin ack` or PagerDuty, stops the escalation and is passed to every
// channel that was paged (PagerDuty's incident is acknowledged); an
// actioned receipt or a revocation resolves the page everywhere.
//
// A page says no more than its reader may see: the body of a TLP:RED or
// TLP:AMBER+STRICT message stays out of every page unless the policy
// allows it (Policy.Body).
//
// Pages survive a restart: the steps' deadlines and what each channel was
// sent are in the state directory, written (and fsynced) before a step is
// taken to have been sent, so an agent that restarts resumes its timers
// and sends no step twice that it had recorded as sent. A crash between a
// channel's acceptance and that record sends the step again once: the
// PagerDuty dedup key (the Tocsin message id) makes that a no-op there.
package paging
