package report

import "html/template"

var tmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="leasesim report">
<title>{{.Title}}</title>
<style>
body { font: 15px/1.45 'Liberation Sans', Arial, Helvetica, sans-serif; margin: 0 auto; max-width: 1400px; padding: 1.2em 2em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.verdict { font-size: 1.15em; background: #f4f6fb; border-left: 5px solid #1f77b4; padding: .8em 1em; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 1em; }
figure.chart { margin: 0; border: 1px solid #eee; padding: .4em; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { font-size: .85em; color: #555; }
code { background: #f3f3f3; padding: 0 .25em; }
.desc { color: #333; }
footer { margin-top: 2em; border-top: 1px solid #ddd; padding-top: .6em; font-size: .85em; color: #555; }
footer code { word-break: break-all; }
@media print {
  @page { size: A4; margin: 14mm; }
  body { max-width: none; padding: 0; font-size: 10pt; color: #000; }
  .verdict { background: none; border-left: 3pt solid #000; }
  .charts { display: block; }
  figure.chart { border: none; padding: 0; margin: 0 0 6mm; break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { break-inside: avoid; font-size: 9pt; }
  code { background: none; }
}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="verdict" id="verdict">{{.Verdict}}</p>

<h2>Scenario</h2>
{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
<table id="settings">
{{range .Settings}}<tr><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>

<h2>The runs side by side</h2>
<table id="compare">
<tr><th></th>{{range .Runs}}<th>{{.}}</th>{{end}}</tr>
{{range .Compare}}<tr><th>{{.Name}}</th>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>

{{if .Knees}}<h2>Capacity: the knee of each configuration</h2>
<table id="knees">
<tr>{{range .KneeHead}}<th>{{.}}</th>{{end}}</tr>
{{range .Knees}}<tr><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}

{{if .SweepCharts}}<h2>Sweep</h2>
<div class="charts">
{{range .SweepCharts}}<figure class="chart" id="chart-{{.ID}}">{{.SVG}}<figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption></figure>
{{end}}</div>{{end}}

<h2>Over time</h2>
<div class="charts">
{{range .Charts}}<figure class="chart" id="chart-{{.ID}}">{{.SVG}}<figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption></figure>
{{end}}</div>

<footer id="footer">
<p>Made by leasesim{{if .Version}} {{.Version}}{{end}}{{if .Commit}} (commit {{.Commit}}){{end}}{{if .Date}} on {{.Date}}{{end}}, a deterministic simulator: the same scenario and seed give the same report.</p>
{{if .Command}}<p>Command: <code>{{.Command}}</code></p>{{end}}
</footer>
</body>
</html>
`))
