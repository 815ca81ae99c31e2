package scale

import (
	"fmt"
	"io"
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

// panels are the picture's four plots.
func panels() []panel {
	return []panel{
		{title: "Counts", unit: "count", log: true, curves: []series{
			{"consumers", func(p Point) float64 { return float64(p.Consumers) }},
			{"raft groups (3 nodes)", func(p Point) float64 { return float64(p.RaftGroups) }},
			{"meta entries at admission", func(p Point) float64 { return float64(p.MetaEntriesAdmission) }},
			{"REACH keys", func(p Point) float64 { return float64(p.ReachKeys) }},
			{"REACH writes", func(p Point) float64 { return float64(p.ReachWrites) }},
		}},
		{title: "Time", unit: "seconds", log: true, curves: []series{
			{"admission", seconds(func(p Point) time.Duration { return p.Admission })},
			{"all delivered in reach", seconds(func(p Point) time.Duration { return p.ReachAllDelivered })},
			{"node start-up", seconds(func(p Point) time.Duration { return p.Startup })},
			{"failover: writes", seconds(func(p Point) time.Duration { return p.FailoverWrite })},
			{"failover: meta", seconds(func(p Point) time.Duration { return p.FailoverMeta })},
			{"agent start", seconds(func(p Point) time.Duration { return p.AgentStart })},
			{"directory fetch", seconds(func(p Point) time.Duration { return p.DirectoryTime })},
			{"console reach, 1st byte", page(pageConsoleReach, false)},
			{"TAXII objects, 1st byte", page(pageTAXIIObjects, false)},
		}},
		{title: "Bytes", unit: "MiB", log: true, curves: []series{
			{"node RSS (largest)", mib(func(p Point) int64 { return p.NodeRSS })},
			{"stores (3 nodes)", mib(func(p Point) int64 { return p.StoreBytes })},
			{"directory fetch", mib(func(p Point) int64 { return p.DirectoryBytes })},
			{"agent start read", mib(func(p Point) int64 { return p.AgentStartBytesIn })},
			{"REACH bucket", mib(func(p Point) uint64 { return p.ReachBytes })},
			{"console reach page", page(pageConsoleReach, true)},
			{"meta log", mib(func(p Point) uint64 { return p.MetaWALBytes })},
		}},
		{title: "Idle, after admission", unit: "per minute / cores", curves: []series{
			{"meta entries per minute", func(p Point) float64 { return p.MetaEntriesIdlePerMin }},
			{"node CPU, cores (3 nodes)", func(p Point) float64 { return p.IdleCores }},
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
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		if pn.log {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		}
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.TextStyle.Font.Size = vg.Points(7)
		for i, s := range pn.curves {
			var xys plotter.XYs
			for _, pt := range r.Points {
				// A log scale has no place for 0: such a point is left out.
				if v := s.of(pt); v > 0 || !pn.log {
					xys = append(xys, plotter.XY{X: float64(pt.Members), Y: v})
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
	width, height := 26*vg.Centimeter, vg.Length(rows)*11*vg.Centimeter
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
