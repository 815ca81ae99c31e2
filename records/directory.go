package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// The public member directory: a request on subjects.SvcDirectory names the
// member id to start after; each reply is a page of members.PublicView
// records, with HeaderDirectoryNext when more follow and HeaderError when
// the service refuses.
const (
	// HeaderDirectoryNext names the last member id of a page when more follow.
	HeaderDirectoryNext = "Tocsin-Directory-Next"
	// HeaderError carries a service's refusal.
	HeaderError = "Tocsin-Error"
	// HeaderDirectoryRevision is the MEMBERS revision a page reflects:
	// every change up to it (a copy made from a listing asks for the
	// changes since it next time).
	HeaderDirectoryRevision = "Tocsin-Directory-Revision"
	// HeaderDirectoryFull answers a request for changes that cannot be
	// answered with changes (the revision is too old or unknown): it says
	// why, and the asker takes the whole directory instead.
	HeaderDirectoryFull = "Tocsin-Directory-Full"
)

// DirectoryRequest asks for the page of members after After (by id): of
// every member, or with Since of those whose records changed after that
// MEMBERS revision.
type DirectoryRequest struct {
	After string `json:"after,omitempty"`
	Since uint64 `json:"since,omitempty"`
}

// ErrDirectory is wrapped when the public directory cannot be fetched.
var ErrDirectory = errors.New("member directory unavailable")

// FetchDirectory asks the cluster for the public member directory, page by
// page, and returns every record (members.PublicView: ids, names, sectors,
// roles, keys, revocations; no contacts).
func FetchDirectory(ctx context.Context, nc *nats.Conn) ([]*tocsinv1.Member, error) {
	all, _, err := FetchDirectorySince(ctx, nc, 0)
	return all, err
}

// ErrDirectoryFull is wrapped when the changes since a revision cannot be
// had: fetch the whole directory (since 0).
var ErrDirectoryFull = errors.New("the directory's changes since that revision cannot be had")

// FetchDirectorySince asks for the records changed after MEMBERS revision
// since, or every record with since 0, and returns them with the revision
// they bring a copy to (0 from a service that gives none: fetch all next
// time too). An error wrapping ErrDirectoryFull says since is too old or
// unknown to the cluster.
func FetchDirectorySince(ctx context.Context, nc *nats.Conn, since uint64) ([]*tocsinv1.Member, uint64, error) {
	var all []*tocsinv1.Member
	var rev uint64
	after := ""
	for first := true; ; first = false {
		req, _ := json.Marshal(DirectoryRequest{After: after, Since: since})
		msg, err := nc.RequestWithContext(ctx, subjects.SvcDirectory, req)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: request %s: %v", ErrDirectory, subjects.SvcDirectory, err)
		}
		if reason := msg.Header.Get(HeaderError); reason != "" {
			return nil, 0, fmt.Errorf("%w: %s", ErrDirectory, reason)
		}
		if reason := msg.Header.Get(HeaderDirectoryFull); reason != "" {
			return nil, 0, fmt.Errorf("%w: %s", ErrDirectoryFull, reason)
		}
		page, err := DecodeMembers(msg.Data)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %v", ErrDirectory, err)
		}
		if first {
			// Later pages may reflect later changes; the first's revision
			// is one the whole answer is at least at.
			rev, _ = strconv.ParseUint(msg.Header.Get(HeaderDirectoryRevision), 10, 64)
		}
		all = append(all, page...)
		next := msg.Header.Get(HeaderDirectoryNext)
		if next == "" || next == after || len(page) == 0 {
			return all, rev, nil
		}
		after = next
	}
}

// MaxDirectoryPage bounds the encoded members of one directory page, well
// below the server's 1 MiB max payload.
const MaxDirectoryPage = 512 << 10

// EncodeMembers encodes members as the repeated field 1 of a message (wire
// compatible with "message MemberList { repeated Member members = 1; }"),
// stopping before maxBytes; it returns how many it took.
func EncodeMembers(ms []*tocsinv1.Member, maxBytes int) ([]byte, int, error) {
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

// ErrDirectoryPage is wrapped when a directory page does not decode.
var ErrDirectoryPage = errors.New("directory page does not decode")

// DecodeMembers decodes what EncodeMembers encoded.
func DecodeMembers(data []byte) ([]*tocsinv1.Member, error) {
	var out []*tocsinv1.Member
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			return nil, fmt.Errorf("%w: unexpected field %d", ErrDirectoryPage, num)
		}
		data = data[n:]
		b, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return nil, fmt.Errorf("%w: truncated", ErrDirectoryPage)
		}
		data = data[n:]
		m := new(tocsinv1.Member)
		if err := proto.Unmarshal(b, m); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDirectoryPage, err)
		}
		out = append(out, m)
	}
	return out, nil
}
