package report

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// addKnee rings the knee point of curve i and names it in the legend.
func addKnee(c chart, x, y float64, i int, name string) error {
	sc, err := plotter.NewScatter(plotter.XYs{{X: x, Y: y}})
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: palette[i%len(palette)], Radius: vg.Points(6), Shape: draw.RingGlyph{}}
	c.Add(sc)
	c.addLegend(name, sc)
	return nil
}

// shadeBands shades each curve's metastable band, from 0 to ymax, in the
// curve's colour, and gives its range in the legend. A band of one count gets 1 %
// of width on either side, so it shows.
func shadeBands(c chart, cs []curve, ymax float64) error {
	for i, cv := range cs {
		if cv.bandLow <= 0 {
			continue
		}
		x0, x1 := float64(cv.bandLow), float64(cv.bandHigh)
		if x1 <= x0 {
			x0, x1 = x0*0.99, x1*1.01
		}
		pg, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: ymax}, {X: x0, Y: ymax}})
		if err != nil {
			return err
		}
		r, g, b, _ := palette[i%len(palette)].RGBA()
		pg.Color = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0x33}
		pg.LineStyle.Width = 0
		c.Add(pg)
		// The colour says whose band it is; the name would not fit the strip.
		c.addLegend(fmt.Sprintf("metastable: %s – %s", count(int64(cv.bandLow)), count(int64(cv.bandHigh))), pg)
	}
	return nil
}
