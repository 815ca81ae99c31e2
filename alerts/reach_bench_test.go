package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// BenchmarkReachOfAnAdvisoryToAll: the liaison's advisory to one sector
// of TOCSIN_REACH_MEMBERS members (default 1,000; docs/PERFORMANCE.md has
// the 10,000 run), a router on each of three nodes, and every member's
// delivered receipt published at once by one fast publisher signing as
// each member (through INGEST and the real router, not 10,000 agents).
// It reports the time from the advisory's publish until the liaison's
// reach answer shows every member delivered, and the REACH writes it
// took, against the one write per member of the earlier shape.
//
//	TOCSIN_REACH_MEMBERS=10000 go test -run '^$' -bench BenchmarkReachOfAnAdvisoryToAll -benchtime 1x ./alerts/
func BenchmarkReachOfAnAdvisoryToAll(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("TOCSIN_REACH_MEMBERS")); err == nil && v > 0 {
		n = v
	}
	cast := clinics(n)
	h := newHarnessWith(b, 3, Options{}, cast)
	var took time.Duration
	var writes uint64
	for b.Loop() {
		start := time.Now()
		id := h.advise(nil)
		before := h.reachWrites()
		h.publishReceiptsAsync(id, cast)
		published := time.Since(start)
		who := memberIDs(cast)
		var t99 time.Duration
		delivered := 0
		for {
			got, _ := h.askReach("hhs-liaison", id, who)
			delivered = len(got)
			if t99 == 0 && delivered*100 >= n*99 {
				t99 = time.Since(start)
			}
			if delivered == n || time.Since(start) > 5*time.Minute {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		took = time.Since(start)
		writes = h.reachWrites() - before
		out, _ := json.Marshal(map[string]any{"members": n, "delivered": delivered, "publish_to_all_delivered_s": took.Seconds(), "publish_to_99pct_delivered_s": t99.Seconds(),
			"receipts_published_s": published.Seconds(), "reach_writes": writes, "reach_writes_old_shape": n, "goal_s": 30})
		fmt.Printf("members  delivered  receipts published  99%% delivered  all delivered (or gave up)  REACH writes  old shape\n%7d  %9d  %17.2fs  %13.2fs  %25.2fs  %12d  %9d\n%s\n",
			n, delivered, published.Seconds(), t99.Seconds(), took.Seconds(), writes, n, out)
		if delivered < n {
			b.Errorf("%d of %d delivered after 5 minutes", delivered, n)
		}
	}
	b.ReportMetric(took.Seconds(), "s-to-all-delivered")
	b.ReportMetric(float64(writes), "reach-writes")
	b.ReportMetric(float64(n), "old-shape-writes")
}

// publishReceiptsAsync publishes a delivered receipt of id from each of
// who, signed as each, asynchronously, 2,000 PubAcks outstanding at most
// (nats.go stalls past 4,000), and waits for every PubAck.
func (h *harness) publishReceiptsAsync(id string, who []*tocsinv1.Member) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var futures []jetstream.PubAckFuture
	wait := func() {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				h.t.Fatalf("publish a receipt: %v", err)
			case <-ctx.Done():
				h.t.Fatal("the receipts' PubAcks did not come within a minute")
			}
		}
		futures = futures[:0]
	}
	for _, m := range who {
		env, err := h.signers[m.GetId()].Seal(tocsinv1.Kind_KIND_RECEIPT,
			&tocsinv1.Receipt{RefId: id, RefSender: "hhs-liaison", State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED})
		if err != nil {
			h.t.Fatal(err)
		}
		data, _ := proto.Marshal(env)
		msg := &nats.Msg{Subject: subjects.Ingest(subjects.KindReceipt, m.GetId()), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		f, err := h.js.PublishMsgAsync(msg)
		if err != nil {
			h.t.Fatal(err)
		}
		if futures = append(futures, f); len(futures) == 2000 {
			wait()
		}
	}
	wait()
}
