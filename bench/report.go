package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// WriteReport writes the report as a directory an operator opens in a browser:
// index.html (every scenario's figures, the machine, the load, the capacity line),
// the charts it shows as PNG files, and report.json (as --json writes it).
func (rep *Report) WriteReport(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	charts, err := rep.writeCharts(dir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), js.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var page bytes.Buffer
	if err := reportPage.Execute(&page, rep.pageData(charts)); err != nil {
		return fmt.Errorf("report: index.html: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), page.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// chart is one written chart file, shown under its scenario.
type chart struct {
	Scenario, File, Title string
}

var (
	colorP50      = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorP99      = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colorBaseline = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	colorMark     = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
)

const chartWidth, chartHeight = 8 * vg.Inch, 3.6 * vg.Inch

func (rep *Report) writeCharts(dir string) ([]chart, error) {
	var charts []chart
	save := func(scenario, file, title string, p *plot.Plot) error {
		if p == nil {
			return nil
		}
		if err := p.Save(chartWidth, chartHeight, filepath.Join(dir, file)); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		charts = append(charts, chart{Scenario: scenario, File: file, Title: title})
		return nil
	}
	for _, s := range rep.Scenarios {
		var err error
		switch x := s.(type) {
		case *IngestResult:
			err = firstErr(
				save(x.Name, "ingest-latency.png", "Ping latency over the run",
					seriesPlot("Ping latency over the run (warm-up before 0)", "seconds from the measured window's start", x.Series, 0, "")),
				save(x.Name, "ingest-rate.png", "Pings answered per second over the run",
					ratePlot("Pings answered per second", "seconds from the measured window's start", x.Series, x.SeriesStepSeconds)),
				save(x.Name, "ingest-percentiles.png", "Ping latency percentiles",
					percentilePlot("Ping latency percentiles (measured window)", []curve{{"server", x.hist, colorP99}, {"bare fasthttp baseline", x.baselineHist, colorBaseline}}, 0, "")),
			)
		case *DeadlinesResult:
			target := x.target()
			err = firstErr(
				save(x.Name, "deadlines-lateness.png", "Detection lateness by transition time",
					seriesPlot("Detection lateness by transition time", "seconds after T0 (the burst's deadline)", x.Series, target, "target p99")),
				save(x.Name, "deadlines-percentiles.png", "Detection lateness percentiles",
					percentilePlot("Detection lateness percentiles (every due check)", []curve{{"lateness", x.hist, colorP99}}, target, "target p99")),
			)
		}
		if err != nil {
			return charts, err
		}
	}
	return charts, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}

// seriesPlot is p50 and p99 (in ms) per step; mark, if not 0, is a horizontal
// line (a target) in seconds. Nil when there is nothing to draw.
func seriesPlot(title, xLabel string, pts []SeriesPoint, mark float64, markName string) *plot.Plot {
	var p50, p99 plotter.XYs
	for _, pt := range pts {
		if pt.Count == 0 {
			continue // no answer in the step: no latency, not a zero one
		}
		p50 = append(p50, plotter.XY{X: pt.T, Y: pt.P50 * 1e3})
		p99 = append(p99, plotter.XY{X: pt.T, Y: pt.P99 * 1e3})
	}
	if len(p50) == 0 {
		return nil
	}
	p := newPlot(title, xLabel, "milliseconds")
	if addLine(p, "p50", p50, colorP50, false) != nil || addLine(p, "p99", p99, colorP99, false) != nil {
		return nil
	}
	if mark > 0 {
		x0, x1 := p50[0].X, p50[len(p50)-1].X
		_ = addLine(p, markName, plotter.XYs{{X: x0, Y: mark * 1e3}, {X: x1, Y: mark * 1e3}}, colorMark, true)
	}
	legendRoom(p)
	return p
}

// legendRoom raises the Y axis so that the legend, top right, sits above the
// lines rather than on them.
func legendRoom(p *plot.Plot) { p.Y.Max *= 1.3 }

func ratePlot(title, xLabel string, pts []SeriesPoint, step float64) *plot.Plot {
	if len(pts) == 0 || step <= 0 {
		return nil
	}
	xys := make(plotter.XYs, len(pts))
	for i, pt := range pts {
		xys[i] = plotter.XY{X: pt.T, Y: float64(pt.Count) / step}
	}
	p := newPlot(title, xLabel, "pings per second")
	if addLine(p, "", xys, colorP50, false) != nil {
		return nil
	}
	return p
}

type curve struct {
	name string
	h    *hist
	c    color.Color
}

// percentilePlot draws each histogram's quantiles against evenly spaced nines,
// so that p99 and p99.9 get as much room as p0 to p90.
func percentilePlot(title string, curves []curve, mark float64, markName string) *plot.Plot {
	p := newPlot(title, "percentile", "milliseconds")
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{
		{Value: 0, Label: "p0"}, {Value: 1, Label: "p90"}, {Value: 2, Label: "p99"}, {Value: 3, Label: "p99.9"},
	})
	p.X.Min, p.X.Max = 0, 3
	drawn := false
	for _, c := range curves {
		x, y := percentileCurve(c.h)
		if len(x) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(x))
		for i := range x {
			xys[i] = plotter.XY{X: x[i], Y: y[i] * 1e3}
		}
		if addLine(p, c.name, xys, c.c, false) != nil {
			return nil
		}
		drawn = true
	}
	if !drawn {
		return nil
	}
	if mark > 0 {
		_ = addLine(p, markName, plotter.XYs{{X: 0, Y: mark * 1e3}, {X: 3, Y: mark * 1e3}}, colorMark, true)
	}
	legendRoom(p)
	return p
}

type pageScenario struct {
	Name   string
	Rows   [][3]string
	Charts []chart
}

type pageData struct {
	*Report
	Pages []pageScenario
}

func (rep *Report) pageData(charts []chart) pageData {
	d := pageData{Report: rep}
	for _, s := range rep.Scenarios {
		ps := pageScenario{Name: s.ScenarioName(), Rows: s.rows()}
		for _, c := range charts {
			if c.Scenario == ps.Name {
				ps.Charts = append(ps.Charts, c)
			}
		}
		d.Pages = append(d.Pages, ps)
	}
	return d
}

var reportPage = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"gib":     func(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<30)) },
	"pct":     func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) },
	"label":   resourceLabel,
	"amount":  fmtResource,
	"seconds": fmtSeconds,
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vigilo bench {{.Date}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.v { font-variant-numeric: tabular-nums; }
.capacity { font-weight: bold; padding: 0.6em; background: #eef6ee; border: 1px solid #9c9; }
img { max-width: 100%; display: block; margin: 0.5em 0 1em; }
.note { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>vigilo bench</h1>
<table>
<tr><th>date (UTC)</th><td>{{.Date}}</td></tr>
<tr><th>machine</th><td>{{.Machine.CPUs}} CPUs ({{.Machine.Model}}), {{gib .Machine.MemoryBytes}} GiB, {{.Machine.OS}}/{{.Machine.Arch}}, {{.Machine.Go}}</td></tr>
<tr><th>load average (1 min)</th><td>{{printf "%.2f" .LoadAverage.Start}} at the start → {{printf "%.2f" .LoadAverage.End}} at the end</td></tr>
<tr><th>run</th><td>{{if .Quick}}--quick{{else}}full size{{end}}{{if .Seed.Checks}}; {{.Seed.Checks}} checks seeded ({{.Seed.PingsPerCheck}} pings each) in {{seconds .Seed.Seconds}}{{end}}</td></tr>
</table>
{{with .Capacity}}
<h2>Capacity</h2>
<p class="capacity">{{.Line}}</p>
{{if .Resources}}<table>
<tr><th>resource</th><th>needed</th><th>measured per node</th><th>usable per node ({{pct .Headroom}} headroom)</th><th>nodes</th><th>from</th></tr>
{{range .Resources}}<tr><td>{{label .Name}}</td><td class="v">{{amount .Name .Needed}}</td><td class="v">{{amount .Name .PerNode}}</td><td class="v">{{amount .Name .Usable}}</td><td class="v">{{.Nodes}}</td><td class="note">{{.From}}</td></tr>
{{end}}</table>{{end}}
{{end}}
<h2>Figures</h2>
<table>
<tr><th>scenario</th><th>figure</th><th>value</th><th>target</th></tr>
{{range .Pages}}{{$name := .Name}}{{range .Rows}}<tr><td>{{$name}}</td><td>{{index . 0}}</td><td class="v">{{index . 1}}</td><td>{{index . 2}}</td></tr>
{{end}}{{end}}{{range .Skipped}}<tr><td>{{.Scenario}}</td><td>skipped</td><td colspan="2">{{.Reason}}</td></tr>
{{end}}</table>
{{range .Pages}}{{if .Charts}}
<h2>{{.Name}}</h2>
{{range .Charts}}<img src="{{.File}}" alt="{{.Title}}">
{{end}}{{end}}{{end}}
<p class="note">Every figure in base units is in <a href="report.json">report.json</a>. Load generator and server share this machine's CPUs unless a remote target was measured.</p>
</body>
</html>
`))
