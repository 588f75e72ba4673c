package report

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium finds the browser: $CHROMIUM, or chromium on the PATH, or /usr/bin/chromium.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// probe is added to a copy of the report (the report itself has no script):
// it records every error the page raises, measures every chart, and writes
// the findings into the DOM for --dump-dom to return.
const probe = `<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message || e)); }, true);
var origError = console.error;
console.error = function () { window.__errors.push(Array.prototype.join.call(arguments, " ")); origError.apply(console, arguments); };
window.addEventListener("load", function () {
  var charts = [];
  document.querySelectorAll("figure.chart").forEach(function (f) {
    var s = f.querySelector("svg"), r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
    var bb = {width: 0, height: 0};
    try { if (s) { bb = s.getBBox(); } } catch (e) { window.__errors.push("getBBox " + f.id + ": " + e); }
    // The legend's box, and every plotted path sampled every 2 px: how many
    // sampled points fall inside the legend box (plot background excluded).
    var overlaps = 0, sampled = 0, lb = null;
    var leg = s && s.querySelector("g.legend"), plot = s && s.querySelector("g.plot");
    if (leg && plot) {
      lb = leg.getBoundingClientRect();
      plot.querySelectorAll("path").forEach(function (p) {
        if (/fill:#FFFFFF/i.test(p.getAttribute("style") || "")) { return; }
        var len = p.getTotalLength(), m = p.getScreenCTM(), pt = s.createSVGPoint();
        for (var d = 0; d <= len; d += 2) {
          var q = p.getPointAtLength(d); pt.x = q.x; pt.y = q.y;
          var sp = pt.matrixTransform(m); sampled++;
          if (sp.x >= lb.left && sp.x <= lb.right && sp.y >= lb.top && sp.y <= lb.bottom) { overlaps++; }
        }
      });
    }
    charts.push({id: f.id, width: r.width, height: r.height, bboxW: bb.width, bboxH: bb.height,
      paths: s ? s.querySelectorAll("path").length : 0, texts: s ? s.querySelectorAll("text").length : 0,
      legend: lb ? {w: lb.width, h: lb.height} : null, overlaps: overlaps, sampled: sampled});
  });
  var res = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  var out = document.createElement("pre");
  out.id = "probe-result";
  out.textContent = JSON.stringify({charts: charts, errors: window.__errors, resources: res});
  document.body.appendChild(out);
});
</script>
`

var browserFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"}

func runChromium(t *testing.T, bin string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append(append([]string{}, browserFlags...), "--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0")
	cmd := exec.CommandContext(ctx, bin, append(all, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstderr:\n%s", bin, args, err, errb.String())
	}
	return out.String(), errb.String()
}

// consoleErrors picks the page's console errors out of Chromium's log.
var consoleLine = regexp.MustCompile(`(?m)^.*CONSOLE.*$`)

// TestReportInBrowser renders a report for a small scenario, opens it in
// headless Chromium, and checks that every chart rendered with a non-zero
// size, no legend box overlaps a plotted point (from the SVG geometry the
// browser computes), the page raised and logged no errors, and it fetched
// nothing. A canary chart with its legend moved into the plot proves the
// overlap check can fail. The screenshot is kept under bin/artifacts/
// (gitignored; or $LEASESIM_ARTIFACTS if set) and its path logged.
func TestReportInBrowser(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not found (install the Debian package: apt-get install -y chromium; or set $CHROMIUM): skipping the browser test")
	}
	dir := filepath.Join("..", "bin", "artifacts", "report-browser")
	if d := os.Getenv("LEASESIM_ARTIFACTS"); d != "" {
		dir = filepath.Join(d, "report-browser")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(dir) // file:// URLs need an absolute path
	if err != nil {
		t.Fatal(err)
	}
	in := smallInput(t)
	in.Version, in.Commit, in.Date = "v0.0.0-test", "0123456789ab", "2026-01-01"
	html := renderString(t, in)
	wantCharts := strings.Count(html, `<figure class="chart"`)
	reportPath := filepath.Join(dir, "report.html")
	probed := filepath.Join(t.TempDir(), "report-probed.html")
	if err := os.WriteFile(reportPath, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	// The canary: the first chart again, its legend moved over the plot.
	m0 := regexp.MustCompile(`(?s)<figure class="chart" id="chart-[^"]*">.*?</figure>`).FindString(html)
	canary := regexp.MustCompile(`id="chart-[^"]*"`).ReplaceAllString(m0, `id="chart-canary"`)
	canary = regexp.MustCompile(`<g class="legend" transform="translate\([^)]*\)"`).ReplaceAllString(canary, `<g class="legend" transform="translate(80 0)"`)
	if !strings.Contains(canary, `transform="translate(80 0)"`) {
		t.Fatal("no legend group to move in the canary chart")
	}
	probedHTML := strings.Replace(html, "</head>", probe+"</head>", 1)
	probedHTML = strings.Replace(probedHTML, "</body>", `<div class="charts">`+canary+"</div></body>", 1)
	if err := os.WriteFile(probed, []byte(probedHTML), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, logs := runChromium(t, bin, "--window-size=1400,1000", "--virtual-time-budget=5000", "--dump-dom", "file://"+probed)
	m := regexp.MustCompile(`(?s)<pre id="probe-result">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no probe result in the DOM; the page did not load or its script did not run\nDOM (start): %.2000s\nlog:\n%s", dom, logs)
	}
	var got struct {
		Charts []struct {
			ID                          string
			Width, Height, BboxW, BboxH float64
			Paths, Texts                int
			Legend                      *struct{ W, H float64 }
			Overlaps, Sampled           int
		}
		Errors    []string
		Resources []string
	}
	js := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'").Replace(m[1])
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("probe result: %v: %s", err, js)
	}
	if len(got.Charts) != wantCharts+1 || wantCharts == 0 {
		t.Fatalf("the browser found %d charts, the report has %d (+ the canary)", len(got.Charts), wantCharts)
	}
	for _, c := range got.Charts {
		if c.Width <= 0 || c.Height <= 0 || c.BboxW <= 0 || c.BboxH <= 0 || c.Paths == 0 || c.Texts == 0 {
			t.Errorf("chart %s did not render: %+v", c.ID, c)
		}
		if c.Legend == nil || c.Legend.W <= 0 || c.Sampled < 100 {
			t.Errorf("chart %s: no legend or nothing plotted to check: %+v", c.ID, c)
			continue
		}
		if c.ID == "chart-canary" {
			if c.Overlaps == 0 {
				t.Errorf("the canary's legend sits on its plot, yet the check found no overlap: the check is blind (%+v)", c)
			}
		} else if c.Overlaps > 0 {
			t.Errorf("chart %s: %d plotted points under its legend", c.ID, c.Overlaps)
		}
	}
	if len(got.Errors) > 0 {
		t.Errorf("the page raised errors: %q", got.Errors)
	}
	if len(got.Resources) > 0 {
		t.Errorf("the page fetched resources: %q", got.Resources)
	}
	for _, l := range consoleLine.FindAllString(logs, -1) {
		t.Errorf("console message: %s", l)
	}
	t.Logf("%d charts rendered, e.g. %s %.0fx%.0f px, %d points sampled, none under a legend", len(got.Charts)-1, got.Charts[0].ID, got.Charts[0].Width, got.Charts[0].Height, got.Charts[0].Sampled)

	shot := filepath.Join(dir, "report.png")
	runChromium(t, bin, "--window-size=1400,4000", "--hide-scrollbars", "--screenshot="+shot, "file://"+reportPath)
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (size %v)", shot, err, st)
	}
	t.Logf("screenshot: %s (%d bytes); report: %s", shot, st.Size(), reportPath)
}
