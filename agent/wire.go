package agent

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/subjects"
)

// DirectorySubject is the request subject every node answers with a page
// of the public member directory (members.PublicView of every record).
const DirectorySubject = subjects.SvcDirectory

// ConsumerSubject is the request subject with which member asks for one of
// its consumers to be created again; the service takes the member from the
// subject, which the member's permissions pin to its own id.
func ConsumerSubject(member string) string { return subjects.SvcConsumer(member) }

// consumerSubjectAll matches every member's consumer requests.
const consumerSubjectAll = subjects.Prefix + ".svc.consumer.*"

// serviceQueue is the queue group the services answer in, so that one
// node answers each request.
const serviceQueue = "tocsin-agent-svc"

// consumerRequest asks for consumer Name (one of auth.Consumers of the
// member) to exist; when it has to be created it starts at StartSeq (0:
// the stream's beginning).
type consumerRequest struct {
	Name     string `json:"name"`
	StartSeq uint64 `json:"start_seq"`
}

// consumerReply is the service's answer.
type consumerReply struct {
	// Action is "exists" (left alone: it is healthy), "created" (it was
	// missing) or "recreated" (its node was gone: deleted and created).
	Action   string `json:"action,omitempty"`
	StartSeq uint64 `json:"start_seq,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ConsumerConfig is the configuration of member consumer c: an R1 durable
// pull consumer with explicit acks, from the stream's beginning (startSeq
// 0) or from startSeq. It is what auth.EnsureConsumers should create, so
// that a consumer re-created after a node loss is the same as the first.
func ConsumerConfig(member string, c auth.Consumer, startSeq uint64) jetstream.ConsumerConfig {
	return auth.ConsumerConfig(member, c, startSeq)
}
