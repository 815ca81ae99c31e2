package scale

import (
	"fmt"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one curve: a name and its value at each point.
type series struct {
	name string
	of   func(Point) float64
}

// panel is one plot of the picture: curves sharing a unit.
type panel struct {
	title, unit string
	log         bool
	curves      []series
}

func seconds(d func(Point) time.Duration) func(Point) float64 {
	return func(p Point) float64 { return d(p).Seconds() }
}

func mib[T int64 | uint64 | int](b func(Point) T) func(Point) float64 {
	return func(p Point) float64 { return float64(b(p)) / (1 << 20) }
}

// page is the first byte of the named page, or its size in MiB.
func page(name string, size bool) func(Point) float64 {
	return func(p Point) float64 {
		for _, pg := range p.Pages {
			if pg.Name == name {
				if size {
					return float64(pg.Bytes) / (1 << 20)
				}
				return pg.TTFB.Seconds()
			}
		}
		return 0
	}
}

// panels are the picture's plots, at most four curves each.
func panels() []panel {
	count := func(f func(Point) int) func(Point) float64 { return func(p Point) float64 { return float64(f(p)) } }
	ms := func(d func(Point) time.Duration) func(Point) float64 {
		return func(p Point) float64 { return float64(d(p)) / float64(time.Millisecond) }
	}
	kib := func(f func(Point) float64) func(Point) float64 { return func(p Point) float64 { return f(p) * 1024 } }
	return []panel{
		{title: "Consumers, raft groups, meta entries", unit: "count", log: true, curves: []series{
			{"consumers", count(func(p Point) int { return p.Consumers })},
			{"raft groups (3 nodes)", count(func(p Point) int { return p.RaftGroups })},
			{"meta entries, admission and consumers", func(p Point) float64 { return float64(p.MetaEntriesAdmission) }},
		}},
		{title: "REACH bucket, advisory to all", unit: "count", log: true, curves: []series{
			{"REACH keys", func(p Point) float64 { return float64(p.ReachKeys) }},
			{"REACH writes", func(p Point) float64 { return float64(p.ReachWrites) }},
		}},
		{title: "Admission and reach", unit: "seconds", log: true, curves: []series{
			{"admission (--lazy-consumers)", seconds(func(p Point) time.Duration { return p.Admission })},
			{"every member's consumers created", seconds(func(p Point) time.Duration { return p.ConsumersCreated })},
			{"receipts sent", seconds(func(p Point) time.Duration { return p.ReceiptsSent })},
			{"all delivered in the liaison's reach", seconds(func(p Point) time.Duration { return p.ReachAllDelivered })},
		}},
		{title: "A node: failover and start-up", unit: "seconds", curves: []series{
			{"failover: writes acknowledged again", seconds(func(p Point) time.Duration { return p.FailoverWrite })},
			{"failover: meta layer again", seconds(func(p Point) time.Duration { return p.FailoverMeta })},
			{"start-up on its data until ready", seconds(func(p Point) time.Duration { return p.Startup })},
		}},
		{title: "Reads", unit: "milliseconds", log: true, curves: []series{
			{"directory fetch", ms(func(p Point) time.Duration { return p.DirectoryTime })},
			{"agent start until live", ms(func(p Point) time.Duration { return p.AgentStart })},
			{"console reach page, first byte", func(p Point) float64 { return page(pageConsoleReach, false)(p) * 1000 }},
			{"TAXII objects page, first byte", func(p Point) float64 { return page(pageTAXIIObjects, false)(p) * 1000 }},
		}},
		{title: "Bytes read", unit: "KiB", log: true, curves: []series{
			{"directory fetch", kib(mib(func(p Point) int64 { return p.DirectoryBytes }))},
			{"agent start", kib(mib(func(p Point) int64 { return p.AgentStartBytesIn }))},
			{"console reach page", kib(page(pageConsoleReach, true))},
			{"REACH bucket (stored)", kib(mib(func(p Point) uint64 { return p.ReachBytes }))},
		}},
		{title: "Memory and disk", unit: "MiB", curves: []series{
			{"node RSS, largest, idle", mib(func(p Point) int64 { return p.NodeRSS })},
			{"stores, 3 nodes", mib(func(p Point) int64 { return p.StoreBytes })},
		}},
		{title: "Idle, after admission (meta entries per minute: the table)", unit: "cores", curves: []series{
			{"CPU of the 3 nodes", func(p Point) float64 { return p.IdleCores }},
		}},
	}
}

// Names of the pages the plot draws.
const (
	pageConsoleReach = "console: the liaison's reach"
	pageTAXIIObjects = "TAXII: first page of objects"
)

// Plot draws every measured figure against the members in four panels,
// log scales where the figures span decades, as format "svg" or "png".
func Plot(r *Result, w io.Writer, format string) error {
	if len(r.Points) == 0 {
		return fmt.Errorf("%w: nothing measured to plot", ErrOptions)
	}
	if format != "svg" && format != "png" {
		return fmt.Errorf("%w: plot format %q: use svg or png", ErrOptions, format)
	}
	var plots []*plot.Plot
	for _, pn := range panels() {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text, p.Y.Label.Text = "members", pn.unit
		var ticks []plot.Tick
		for _, pt := range r.Points {
			ticks = append(ticks, plot.Tick{Value: float64(pt.Members), Label: fmt.Sprint(pt.Members)})
		}
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.ConstantTicks(ticks)
		if pn.log {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		}
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.TextStyle.Font.Size = vg.Points(8)
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, s := range pn.curves {
			var xys plotter.XYs
			for _, pt := range r.Points {
				// A log scale has no place for 0: such a point is left out.
				if v := s.of(pt); v > 0 || !pn.log {
					xys = append(xys, plotter.XY{X: float64(pt.Members), Y: v})
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
			if len(xys) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			l.Color, pts.Color, pts.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
			p.Add(l, pts)
			p.Legend.Add(s.name, l, pts)
		}
		// Room above the curves for the legend, and a margin either side.
		if pn.log && hi > 0 {
			p.Y.Min, p.Y.Max = lo/3, hi*math.Max(30, math.Pow(hi/lo, 0.8))
		} else if hi > math.Inf(-1) {
			p.Y.Min, p.Y.Max = 0, math.Max(hi*1.8, 1e-9)
		}
		p.X.Min, p.X.Max = math.Inf(1), 0
		for _, pt := range r.Points {
			p.X.Min, p.X.Max = math.Min(p.X.Min, float64(pt.Members)/1.3), math.Max(p.X.Max, float64(pt.Members)*1.3)
		}
		plots = append(plots, p)
	}
	const cols = 2
	rows := (len(plots) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i, p := range plots {
		grid[i/cols] = append(grid[i/cols], p)
	}
	for len(grid[rows-1]) < cols {
		grid[rows-1] = append(grid[rows-1], nil)
	}
	width, height := 26*vg.Centimeter, vg.Length(rows)*8.5*vg.Centimeter
	var c io.WriterTo
	var dc draw.Canvas
	if format == "svg" {
		svg := vgsvg.New(width, height)
		c, dc = svg, draw.New(svg)
	} else {
		img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))
		c, dc = vgimg.PngCanvas{Canvas: img}, draw.New(img)
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: 4 * vg.Millimeter, PadBottom: 4 * vg.Millimeter, PadLeft: 4 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(grid, tiles, dc)
	for j := range grid {
		for i, p := range grid[j] {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
	_, err := c.WriteTo(w)
	return err
}
