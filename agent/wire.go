package agent

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
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

// Headers of directory replies.
const (
	// headerNext names the last member id of a page when more follow.
	headerNext = "Tocsin-Directory-Next"
	// headerError carries a service's refusal.
	headerError = "Tocsin-Error"
)

// directoryRequest asks for the page of members after After (by id).
type directoryRequest struct {
	After string `json:"after,omitempty"`
}

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

// maxDirectoryPage bounds the encoded members of one directory page, well
// below the server's 1 MiB max payload.
const maxDirectoryPage = 512 << 10

// encodeMembers encodes members as the repeated field 1 of a message (wire
// compatible with "message MemberList { repeated Member members = 1; }"),
// stopping before maxBytes; it returns how many it took.
func encodeMembers(ms []*tocsinv1.Member, maxBytes int) ([]byte, int, error) {
	var out []byte
	for i, m := range ms {
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return nil, 0, err
		}
		if i > 0 && len(out)+len(data)+8 > maxBytes {
			return out, i, nil
		}
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, data)
	}
	return out, len(ms), nil
}

// errDirectoryPage is wrapped when a directory page does not decode.
var errDirectoryPage = errors.New("directory page does not decode")

// decodeMembers decodes what encodeMembers encoded.
func decodeMembers(data []byte) ([]*tocsinv1.Member, error) {
	var out []*tocsinv1.Member
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			return nil, fmt.Errorf("%w: unexpected field %d", errDirectoryPage, num)
		}
		data = data[n:]
		b, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return nil, fmt.Errorf("%w: truncated", errDirectoryPage)
		}
		data = data[n:]
		m := new(tocsinv1.Member)
		if err := proto.Unmarshal(b, m); err != nil {
			return nil, fmt.Errorf("%w: %v", errDirectoryPage, err)
		}
		out = append(out, m)
	}
	return out, nil
}
