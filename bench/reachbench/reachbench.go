// Package reachbench is `tocsin bench reach`: a liaison's advisory to
// every member of a sector of N, on three `tocsin node` processes in
// operator mode with member accounts (chaos.StartNodes), then every
// member's delivered receipt through INGEST and the routers' REACH
// batching, until the liaison's reach shows every member delivered.
package reachbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/chaos"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/reach"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// ErrOptions is wrapped when Options cannot be used.
var ErrOptions = errors.New("invalid reach benchmark options")

// Options configures Run. The zero value of each field is its default.
type Options struct {
	// Members is how many members of the sector the advisory reaches,
	// each admitted with its own account and credentials. Default 1,000.
	Members int
	// DataDir holds the nodes, the keys and the members' credentials.
	// Required.
	DataDir string
	// Binary is the tocsin binary the node processes run. Default: this
	// process's executable.
	Binary string
	// Outstanding is how many receipts' PubAcks may be awaited at once
	// (nats.go stalls past 4,000). Default 2,000.
	Outstanding int
	// Wait is how long the run waits for every member delivered after the
	// advisory's publish. Default 5 minutes.
	Wait time.Duration
	// Progress, when set, is told what the benchmark is doing.
	Progress func(string)
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, fmt.Errorf("%w: a data directory is required", ErrOptions)
	}
	if o.Members < 0 || o.Outstanding < 0 || o.Wait < 0 {
		return o, fmt.Errorf("%w: members, outstanding and wait cannot be negative", ErrOptions)
	}
	if o.Members == 0 {
		o.Members = 1000
	}
	if o.Outstanding == 0 {
		o.Outstanding = 2000
	}
	if o.Wait == 0 {
		o.Wait = 5 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("%w: no tocsin binary to run the nodes: %v", ErrOptions, err)
		}
		o.Binary = exe
	}
	return o, nil
}

// Goal is how soon after the publish every member should show delivered.
const Goal = 30 * time.Second

// Result is what Run measured. Times are from the advisory's publish.
type Result struct {
	Members   int `json:"members"`
	Delivered int `json:"delivered"`
	// NodeStart is tocsin init and the node processes until healthy;
	// Admission tocsin members add --lazy-consumers of every member.
	NodeStart time.Duration `json:"node_start"`
	Admission time.Duration `json:"admission"`
	// Routed is when the advisory's outcome said routed.
	Routed time.Duration `json:"routed"`
	// ReceiptsPublished is when the last receipt's PubAck came.
	ReceiptsPublished time.Duration `json:"receipts_published"`
	// To99 and ToAll are when the liaison's reach answer first showed
	// 99% and every member delivered (ToAll 0: not within Wait).
	To99  time.Duration `json:"publish_to_99pct_delivered"`
	ToAll time.Duration `json:"publish_to_all_delivered"`
	// Report is the liaison's whole reach report (tocsin reach) once all
	// were delivered: how long it took, and what it counted.
	Report          time.Duration `json:"report"`
	ReportDelivered int           `json:"report_delivered"`
	// ReachWrites are the REACH bucket's writes from the advisory on;
	// OldShapeWrites the one write per member of the earlier shape;
	// ReachSets the sets (sector shards) they went to.
	ReachWrites    uint64 `json:"reach_writes"`
	OldShapeWrites int    `json:"reach_writes_old_shape"`
	ReachSets      int    `json:"reach_sets"`
	// ReceiptsPerSec is the members delivered over the time from the
	// first receipt's publish to the last delivered.
	ReceiptsPerSec float64 `json:"receipts_per_sec"`
	// Curve is what the liaison's reach and the routers' receipt consumer
	// showed, about every half second.
	Curve []Sample `json:"curve"`
	// GoalS is Goal in seconds; MetGoal whether ToAll was within it.
	GoalS   float64 `json:"goal_s"`
	MetGoal bool    `json:"met_goal"`
	// Load is the machine's load average at the start and the end.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

// Sample is one point of the run's curve.
type Sample struct {
	At        time.Duration `json:"at"`
	Delivered int           `json:"delivered"`
	// Pending and AckPending are the routers' shared receipt consumer's:
	// receipts not yet handed to a router, and handed but not yet
	// acknowledged (waiting for their REACH window's write).
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	// ReachWrites are the REACH writes so far.
	ReachWrites uint64 `json:"reach_writes"`
}

// liaison is the member whose advisory it is.
const liaison = "hhs-liaison"

// sector is the sector every member is in.
const sector = "patient-care"

// Run measures one advisory's reach to o.Members members.
func Run(ctx context.Context, o Options, log *zap.Logger) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	res := &Result{Members: o.Members, OldShapeWrites: o.Members, GoalS: Goal.Seconds(), LoadStart: loadAverage(),
		ReachSets: records.ReachShards(o.Members)}
	o.Progress("tocsin init and three tocsin node processes (operator mode)")
	start := time.Now()
	nodes, err := chaos.StartNodes(ctx, o.Binary, filepath.Join(o.DataDir, "cluster"), "", log)
	if err != nil {
		return nil, err
	}
	defer nodes.Close()
	res.NodeStart = time.Since(start)

	ids := make([]string, o.Members)
	for i := range ids {
		ids[i] = fmt.Sprintf("clinic-%05d", i)
	}
	seed := filepath.Join(o.DataDir, "members.csv")
	if err := writeSeed(seed, ids); err != nil {
		return nil, err
	}
	creds := filepath.Join(o.DataDir, "creds")
	o.Progress(fmt.Sprintf("tocsin members add --lazy-consumers: %d members and the liaison", o.Members))
	start = time.Now()
	if err := nodes.Admit(ctx, seed, creds, "--lazy-consumers", "--timeout", "30m"); err != nil {
		return nil, err
	}
	res.Admission = time.Since(start)
	credsOf := func(id string) string { return filepath.Join(creds, id+".creds") }
	signers := make([]*envelope.Signer, len(ids))
	for i, id := range ids {
		if signers[i], err = envelope.SignerFromCredsFile(id, credsOf(id)); err != nil {
			return nil, err
		}
	}
	svc, err := nats.Connect(nodes.URLs(), nats.UserCredentials(nodes.ServiceCreds()), nats.RootCAs(nodes.CA()), nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	js, _ := jetstream.New(svc, jetstream.WithPublishAsyncMaxPending(2*o.Outstanding))
	cl, err := client.Connect(ctx, client.Options{Servers: nodes.URLs(), CredsFile: credsOf(liaison), Name: "bench reach",
		NATS: []nats.Option{nats.RootCAs(nodes.CA()), nats.MaxReconnects(-1)}})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	before, err := reachWrites(ctx, js)
	if err != nil {
		return nil, err
	}

	o.Progress(fmt.Sprintf("the liaison's advisory to %s (%d members)", sector, o.Members))
	start = time.Now()
	env, err := cl.Publish(ctx, tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "bench reach", Body: "patch now",
		Lane: tocsinv1.Lane_LANE_ROUTINE, Sectors: []string{sector}, Tlp: tlp.Clear.Proto()})
	if err != nil {
		return nil, err
	}
	if err := waitRouted(ctx, cl, env.GetId()); err != nil {
		return nil, err
	}
	res.Routed = time.Since(start)
	s := &sampler{js: js, cl: cl, id: env.GetId(), who: ids, start: start, before: before}
	stopSampling := s.run(ctx)
	o.Progress(fmt.Sprintf("routed in %s; every member's delivered receipt, %d PubAcks outstanding at most", res.Routed.Round(time.Millisecond), o.Outstanding))
	firstReceipt := time.Now()
	if err := publishReceipts(ctx, js, env.GetId(), ids, signers, o.Outstanding); err != nil {
		stopSampling()
		return nil, err
	}
	res.ReceiptsPublished = time.Since(start)
	o.Progress(fmt.Sprintf("receipts published in %s; waiting for the liaison's reach to show every member", res.ReceiptsPublished.Round(time.Millisecond)))
	s.waitAll(ctx, o.Members, o.Wait, o.Progress)
	stopSampling()
	res.Curve, res.Delivered, res.To99, res.ToAll = s.result(o.Members)
	if res.ToAll > 0 {
		res.ReceiptsPerSec = float64(o.Members) / (res.ToAll - firstReceipt.Sub(start)).Seconds()
		res.MetGoal = res.ToAll <= Goal
	}
	if res.ReachWrites, err = reachWrites(ctx, js); err != nil {
		return nil, err
	}
	res.ReachWrites -= before
	o.Progress("the liaison's whole reach report (tocsin reach)")
	rstart := time.Now()
	rep, err := reach.Of(ctx, cl, env.GetId())
	if err != nil {
		return nil, fmt.Errorf("the liaison's reach report: %w", err)
	}
	res.Report, res.ReportDelivered = time.Since(rstart), rep.Delivered
	res.LoadEnd = loadAverage()
	return res, nil
}

// writeSeed writes the liaison and ids (members of sector) as the .csv
// tocsin members add reads.
func writeSeed(path string, ids []string) error {
	var b strings.Builder
	b.WriteString("id,name,sectors,region,roles,contact\n")
	fmt.Fprintf(&b, "%s,HHS liaison,federal,national,liaison,\n", liaison)
	for _, id := range ids {
		fmt.Fprintf(&b, "%s,%s,%s,northeast,member,soc@%s.example\n", id, id, sector, id)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// waitRouted waits until the outcome of the liaison's id says routed.
func waitRouted(ctx context.Context, cl *client.Client, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		o, err := cl.Outcome(ctx, id)
		if err == nil && o != nil {
			if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
				return fmt.Errorf("the advisory was %s: %v", o.GetState(), o.GetRejection())
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the advisory was not routed: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishReceipts publishes every member's delivered receipt of id, each
// sealed by that member's key, on the subject its own agent publishes on
// (the member's import lands there in the TOCSIN account), with at most
// outstanding PubAcks awaited at once.
func publishReceipts(ctx context.Context, js jetstream.JetStream, id string, ids []string, signers []*envelope.Signer, outstanding int) error {
	var futures []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publish a receipt: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	for i, member := range ids {
		env, err := signers[i].Seal(tocsinv1.Kind_KIND_RECEIPT,
			&tocsinv1.Receipt{RefId: id, RefSender: liaison, State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED})
		if err != nil {
			return err
		}
		data, _ := proto.Marshal(env)
		msg := &nats.Msg{Subject: subjects.Ingest(subjects.KindReceipt, member), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		f, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
		if err != nil {
			return err
		}
		if futures = append(futures, f); len(futures) == outstanding {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}

// reachWrites is the REACH bucket stream's last sequence: its writes.
func reachWrites(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "KV_"+records.BucketReach)
	if err != nil {
		return 0, fmt.Errorf("the REACH bucket: %w", err)
	}
	return s.CachedInfo().State.LastSeq, nil
}

// recordsConsumer is the routers' shared consumer of receipts.
var recordsConsumer = alerts.DefaultDurable + "-records"

// loadAverage is /proc/loadavg's first three fields ("" where unknown).
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
