package train

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"github.com/minimind-go/minimind/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// PlotLoss writes a PNG of the loss curve: every optimizer step's loss in
// a light line and an exponential moving average on top, with the
// learning rate in a smaller panel below.
func PlotLoss(path, title string, steps []Step) error {
	return PlotCurve(path, title, "loss", steps)
}

// PlotCurve is PlotLoss for a curve carried in Step.Loss under another
// name (the RL loops plot their mean reward): yLabel names the axis.
func PlotCurve(path, title, yLabel string, steps []Step) (err error) {
	if len(steps) == 0 {
		return fmt.Errorf("plot %s: no steps", path)
	}
	defer func() {
		// gonum panics on ranges it cannot tick; widen below avoids the
		// known ones, and a picture is not worth a crashed run.
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %s: %v", path, r)
		}
	}()
	raw := make(plotter.XYs, 0, len(steps))
	ema := make(plotter.XYs, 0, len(steps))
	lr := make(plotter.XYs, 0, len(steps))
	var val plotter.XYs // held-out loss, at the steps that have one
	alpha := 2 / (1 + float64(min(50, max(2, len(steps)/20))))
	var avg float64
	for _, s := range steps {
		lr = append(lr, plotter.XY{X: float64(s.Step), Y: s.LR})
		if s.EvalLoss != 0 && !math.IsNaN(s.EvalLoss) && !math.IsInf(s.EvalLoss, 0) {
			val = append(val, plotter.XY{X: float64(s.Step), Y: s.EvalLoss})
		}
		// A skipped NaN/Inf step has no point on the loss curve (the
		// plotter rejects them) and stays out of the average.
		if math.IsNaN(s.Loss) || math.IsInf(s.Loss, 0) {
			continue
		}
		if len(raw) == 0 {
			avg = s.Loss
		} else {
			avg = alpha*s.Loss + (1-alpha)*avg
		}
		raw = append(raw, plotter.XY{X: float64(s.Step), Y: s.Loss})
		if !math.IsInf(avg, 0) { // a sum of two huge losses can overflow
			ema = append(ema, plotter.XY{X: float64(s.Step), Y: avg})
		}
	}
	top := plot.New()
	top.Title.Text = title
	top.Y.Label.Text = yLabel
	top.Add(plotter.NewGrid())
	l1, err := plotter.NewLine(raw)
	if err != nil {
		return err
	}
	l1.Color = color.RGBA{R: 150, G: 180, B: 230, A: 255}
	l2, err := plotter.NewLine(ema)
	if err != nil {
		return err
	}
	l2.Color = color.RGBA{R: 20, G: 60, B: 160, A: 255}
	l2.Width = vg.Points(2)
	top.Add(l1, l2)
	var l4 *plotter.Line
	if len(val) > 0 {
		l4, err = plotter.NewLine(val)
		if err != nil {
			return err
		}
		l4.Color = color.RGBA{R: 220, G: 110, B: 20, A: 255}
		l4.Width = vg.Points(2)
		pts, err := plotter.NewScatter(val)
		if err != nil {
			return err
		}
		pts.Color = l4.Color
		top.Add(l4, pts)
	}
	widen(&top.X)
	widen(&top.Y)
	top.Legend.Add(yLabel, l1)
	top.Legend.Add("moving average", l2)
	if l4 != nil {
		top.Legend.Add("validation", l4)
	}
	top.Legend.Top = true
	// Steps are whole numbers: ticks at integers only, printed as such.
	top.X.Tick.Marker = stepTicks{}

	bottom := plot.New()
	bottom.X.Label.Text = "optimizer step"
	bottom.Y.Label.Text = "lr"
	bottom.Add(plotter.NewGrid())
	l3, err := plotter.NewLine(lr)
	if err != nil {
		return err
	}
	l3.Color = color.RGBA{R: 200, G: 90, B: 30, A: 255}
	bottom.Add(l3)
	bottom.X.Tick.Marker = stepTicks{}
	widen(&bottom.X)
	widen(&bottom.Y)

	const w, h = 9 * vg.Inch, 6 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(6)}
	// The loss panel gets 3/4 of the height.
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	split := h / 4
	canvases[0][0].Min.Y = split
	canvases[1][0].Max.Y = split - vg.Points(6)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	return atomicfile.Write(path, 0o644, func(wr io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(wr)
		return err
	})
}

// widen gives an axis whose data span is empty or below float64's
// resolution (one step; a constant learning rate of 1e30) a span of 10%
// of its value, which gonum's ticker can divide.
func widen(a *plot.Axis) {
	lo, hi := a.Min, a.Max
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || hi-lo > 1e-9*math.Max(math.Abs(lo), math.Abs(hi)) {
		return // no data (gonum copes), or a span it can tick
	}
	d := math.Max(0.05*math.Max(math.Abs(lo), math.Abs(hi)), 1e-9)
	a.Min, a.Max = lo-d, hi+d
}

// stepTicks marks an axis of optimizer steps: gonum's default ticks, kept
// only at whole steps and labelled without decimals ("3", not "3.0" or
// "2.5"); a range too short for two such ticks gets one per step.
type stepTicks struct{}

// Ticks implements plot.Ticker.
func (stepTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	major := 0
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value != math.Trunc(t.Value) {
			continue
		}
		if t.Label != "" {
			t.Label = strconv.FormatInt(int64(t.Value), 10)
			major++
		}
		out = append(out, t)
	}
	if major >= 2 || hi-lo > 1000 {
		return out
	}
	out = out[:0]
	for v := math.Ceil(lo); v <= hi; v++ {
		out = append(out, plot.Tick{Value: v, Label: strconv.FormatInt(int64(v), 10)})
	}
	return out
}
