package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// palette: distinguishable colours for up to 8 lines, then repeated.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff},
}

// Chart is one rendered chart: its inline SVG and what it shows.
type Chart struct {
	ID      string
	Title   string
	Caption string
	SVG     template.HTML // produced by gonum/plot's vgsvg, which escapes every text it draws
}

// line is one named series.
type line struct {
	name string
	xs   []float64
	ys   []float64
}

// A chart is the plot on the left and its legend in a strip on the right,
// outside the plotting area, so it never hides a curve. The strip is as wide
// as its longest entry needs, within [minLegendW, maxLegendW].
const (
	chartW, chartH         = 7.4 * vg.Inch, 3.1 * vg.Inch
	minLegendW, maxLegendW = 1.1 * vg.Inch, 3.2 * vg.Inch
)

// fontStack is the one sans font of the page and the charts: gonum measures
// text with Liberation Sans (bundled), metric-compatible with Arial/Helvetica.
const fontStack = `'Liberation Sans', Arial, Helvetica, sans-serif`

// chart is a plot and its legend, drawn apart.
type chart struct {
	*plot.Plot
	legend *plot.Legend
	names  *[]string // the legend's entries, to size its strip
}

// addLegend adds an entry to the legend.
func (c chart) addLegend(name string, thumbs ...plot.Thumbnailer) {
	c.legend.Add(name, thumbs...)
	*c.names = append(*c.names, name)
}

// legendWidth is the strip the legend's longest entry needs.
func (c chart) legendWidth() vg.Length {
	w := vg.Length(0)
	for _, n := range *c.names {
		w = max(w, c.legend.TextStyle.Width(n))
	}
	w += c.legend.ThumbnailWidth + c.legend.TextStyle.Width("MM") + vg.Points(6)
	return min(max(w, minLegendW), maxLegendW)
}

func sans(s *draw.TextStyle) { s.Font.Typeface, s.Font.Variant = "Liberation", "Sans" }

func newPlot(title, xlabel, ylabel string) chart {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, s := range []*draw.TextStyle{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label} {
		sans(s)
	}
	p.Y.Min = 0
	p.X.Tick.Marker = numTicks{}
	p.Y.Tick.Marker = numTicks{}
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	sans(&leg.TextStyle)
	leg.Top, leg.Left = true, true
	leg.Padding = vg.Points(3)
	return chart{Plot: p, legend: &leg, names: new([]string)}
}

// numTicks are gonum's default tick positions labelled with thousands
// separators and no needless decimals (50, not 50.00; 160,000, not 160000).
type numTicks struct{}

func (numTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	step := 0.0
	for i := 1; i < len(ts); i++ {
		if ts[i].Label != "" && ts[i-1].Label != "" {
			step = ts[i].Value - ts[i-1].Value
			break
		}
	}
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = numLabel(ts[i].Value, step)
		}
	}
	return ts
}

// numLabel formats a tick value with the decimals its step needs.
func numLabel(v, step float64) string {
	dec := 0
	for s := step; dec < 6 && s > 0 && math.Abs(s-math.Round(s)) > 1e-9; s *= 10 {
		dec++
	}
	if math.Abs(v) < 1e-12 {
		v = 0
	}
	return humanize.CommafWithDigits(v, dec)
}

// timeTicks puts 4-8 ticks on a time axis in seconds at a step people
// count in: 180 s gets a tick every 30 s, 12 min every 2 min.
type timeTicks struct{}

var timeSteps = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if (hi-lo)/s <= 8 {
			step = s
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: humanize.Comma(int64(math.Round(v)))})
		for m := 1; m < 5 && step >= 10; m++ { // minor ticks at fifths... if they are whole
			if mv := v + float64(m)*step/5; mv <= hi && mv == math.Trunc(mv) {
				ts = append(ts, plot.Tick{Value: mv})
			}
		}
	}
	return ts
}

// logTicks: a log axis with its decades (and 2x, 5x) labelled with separators.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi*10; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: humanize.Comma(int64(math.Round(v)))})
		}
	}
	return ts
}

// timeAxis makes the x axis a time axis in seconds.
func (c chart) timeAxis() { c.X.Tick.Marker = timeTicks{} }

// logX makes the x axis logarithmic (the values must be > 0).
func (c chart) logX() {
	c.X.Scale = plot.LogScale{}
	c.X.Tick.Marker = logTicks{}
}

func xys(l line) plotter.XYs {
	xy := make(plotter.XYs, len(l.xs))
	for j := range l.xs {
		xy[j].X, xy[j].Y = l.xs[j], l.ys[j]
	}
	return xy
}

// addLines draws each series as a line (and, with points, a dot per point).
func addLines(c chart, lines []line, points bool) error {
	for i, l := range lines {
		xy := xys(l)
		if len(xy) == 0 {
			continue
		}
		ln, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		ln.Color = palette[i%len(palette)]
		ln.Width = vg.Points(1.3)
		ln.Dashes = dashes(i)
		c.Add(ln)
		c.addLegend(l.name, ln)
		if points {
			sc, err := plotter.NewScatter(xy)
			if err != nil {
				return err
			}
			sc.Color = ln.Color
			sc.Radius = vg.Points(2)
			c.Add(sc)
		}
	}
	return nil
}

// addPoints draws each series as points only: probes of a search, which are
// not a curve (joining them zig-zags in the order they were probed).
func addPoints(c chart, lines []line) error {
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}
	for i, l := range lines {
		xy := xys(l)
		if len(xy) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: palette[i%len(palette)], Radius: vg.Points(3), Shape: shapes[i%len(shapes)]}
		c.Add(sc)
		c.addLegend(l.name, sc)
	}
	return nil
}

// dashes: lines after the palette's first round are dashed, so overlapping
// runs stay distinguishable.
func dashes(i int) []vg.Length {
	if i/len(palette)%2 == 1 {
		return []vg.Length{vg.Points(4), vg.Points(2)}
	}
	return nil
}

// hline draws a horizontal reference line (e.g. the CPU target).
func hline(c chart, y, x0, x1 float64, name string) error {
	ln, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return err
	}
	ln.Color = color.RGBA{0x55, 0x55, 0x55, 0xff}
	ln.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	c.Add(ln)
	c.addLegend(name, ln)
	return nil
}

// svgBody is an SVG document's content inside its <svg> element.
func svgBody(s string) (string, error) {
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("no <svg> element")
	}
	j := strings.Index(s[i:], ">")
	k := strings.LastIndex(s, "</svg>")
	if j < 0 || k < 0 {
		return "", fmt.Errorf("malformed SVG")
	}
	return s[i+j+1 : k], nil
}

func canvasSVG(draw func(*vgsvg.Canvas), w, h vg.Length) (string, error) {
	c := vgsvg.New(w, h)
	draw(c)
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	return svgBody(b.String())
}

func pt(l vg.Length) string {
	return strconv.FormatFloat(math.Round(l.Points()*1000)/1000, 'f', -1, 64)
}

// render draws the chart as one inline SVG: the plot in <g class="plot">,
// the legend in <g class="legend"> in the strip to its right.
func render(c chart, id, title, caption string) (Chart, error) {
	legendW := c.legendWidth()
	plotW := chartW - legendW
	if c.Y.Min == 0 && c.Y.Max <= 0 {
		c.Y.Max = 1 // all zero: 0 to 1, not -1 to 1
	}
	body, err := canvasSVG(func(cv *vgsvg.Canvas) {
		dc := draw.New(cv)
		c.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	}, chartW, chartH)
	if err != nil {
		return Chart{}, fmt.Errorf("chart %s: %w", id, err)
	}
	leg, err := canvasSVG(func(cv *vgsvg.Canvas) {
		dc := draw.New(cv)
		// Align the legend's top with the plot's title.
		c.legend.Draw(draw.Crop(dc, vg.Points(4), 0, 0, -vg.Points(18)))
	}, legendW, chartH)
	if err != nil {
		return Chart{}, fmt.Errorf("chart %s legend: %w", id, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-label="%s" preserveAspectRatio="xMidYMid meet" viewBox="0 0 %s %s" width="%spt" height="%spt" xmlns="http://www.w3.org/2000/svg">`,
		template.HTMLEscapeString(title), pt(chartW), pt(chartH), pt(chartW), pt(chartH))
	fmt.Fprintf(&b, "\n<g class=\"plot\">%s</g>\n<g class=\"legend\" transform=\"translate(%s 0)\">%s</g>\n</svg>", body, pt(plotW), leg)
	s := strings.ReplaceAll(b.String(), "font-family:Liberation Sans;", "font-family:"+fontStack+";")
	return Chart{ID: id, Title: title, Caption: caption, SVG: template.HTML(s)}, nil
}

// barChart draws groups of bars: one group per category, one bar per series.
func barChart(title, ylabel string, categories []string, series []line) (chart, error) {
	c := newPlot(title, "", ylabel)
	n := len(series)
	w := vg.Points(min(24, 240/float64(max(1, n*len(categories)))))
	for i, s := range series {
		vals := plotter.Values(s.ys)
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return c, err
		}
		b.Color = palette[i%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(n-1)/2)
		c.Add(b)
		c.addLegend(s.name, b)
	}
	c.NominalX(categories...)
	return c, nil
}
