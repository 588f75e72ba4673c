package report

import (
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
