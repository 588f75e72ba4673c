package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"strings"

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

const chartW, chartH = 6.2 * vg.Inch, 3.1 * vg.Inch

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

func addLines(p *plot.Plot, lines []line, points bool) error {
	for i, l := range lines {
		xy := make(plotter.XYs, len(l.xs))
		for j := range l.xs {
			xy[j].X, xy[j].Y = l.xs[j], l.ys[j]
		}
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
		p.Add(ln)
		p.Legend.Add(l.name, ln)
		if points {
			sc, err := plotter.NewScatter(xy)
			if err != nil {
				return err
			}
			sc.Color = ln.Color
			sc.Radius = vg.Points(2)
			p.Add(sc)
		}
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
func hline(p *plot.Plot, y, x0, x1 float64, name string) error {
	ln, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return err
	}
	ln.Color = color.RGBA{0x55, 0x55, 0x55, 0xff}
	ln.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(ln)
	p.Legend.Add(name, ln)
	return nil
}

// render draws p as SVG, without its XML prologue, ready to inline.
func render(p *plot.Plot, id, title, caption string) (Chart, error) {
	c := vgsvg.New(chartW, chartH)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return Chart{}, err
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return Chart{}, fmt.Errorf("chart %s: no <svg> element", id)
	}
	s = s[i:]
	// Scale with the page: keep the viewBox, let CSS set the width.
	s = strings.Replace(s, "<svg", `<svg role="img" preserveAspectRatio="xMidYMid meet"`, 1)
	return Chart{ID: id, Title: title, Caption: caption, SVG: template.HTML(s)}, nil
}

// barChart draws groups of bars: one group per category, one bar per series.
func barChart(title, ylabel string, categories []string, series []line) (*plot.Plot, error) {
	p := newPlot(title, "", ylabel)
	n := len(series)
	w := vg.Points(min(24, 240/float64(max(1, n*len(categories)))))
	for i, s := range series {
		vals := plotter.Values(s.ys)
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = palette[i%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(n-1)/2)
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	p.NominalX(categories...)
	return p, nil
}
