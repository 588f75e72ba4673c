package fidelity

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/spec"
)

// measuringLock is the file calibrate's measurements hold while they run
// (calibrate/storm_measure_test.go): the corpus waits while it exists, so
// as not to disturb them (nor have its wall times disturbed).
const measuringLock = "/tmp/leasesim-measuring"

// TestFastCorpus runs the whole corpus in both modes and writes
// bin/fast-corpus.md and bin/fast-corpus.json (`make fast-corpus`). It
// runs only with LEASESIM_FAST_CORPUS=1; LEASESIM_FAST_CORPUS_RUN, a
// regular expression, runs the scenarios whose names match it only;
// LEASESIM_FAST_CORPUS_EXACT, the path of an earlier fast-corpus.json,
// takes the exact runs from it and runs the fast mode alone (seconds
// instead of minutes, to try a change of the fast mode; valid only while
// the exact mode's results stay byte-identical, and the report says so).
func TestFastCorpus(t *testing.T) {
	if os.Getenv("LEASESIM_FAST_CORPUS") != "1" {
		t.Skip("set LEASESIM_FAST_CORPUS=1 to run the corpus (make fast-corpus)")
	}
	specs := Corpus()
	if re := os.Getenv("LEASESIM_FAST_CORPUS_RUN"); re != "" {
		rx := regexp.MustCompile(re)
		specs = slices.DeleteFunc(specs, func(s spec.Spec) bool { return !rx.MatchString(s.Name) })
	}
	var saved map[string]Result
	savedNote := ""
	if path := os.Getenv("LEASESIM_FAST_CORPUS_EXACT"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if saved, err = SavedExact(data); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		savedNote = " The exact runs' figures and times are not measured here: they are read from " + path + "."
	}
	before := func(i int, s spec.Spec) {
		for waited := false; ; waited = true {
			if _, err := os.Stat(measuringLock); err != nil {
				return
			}
			if !waited {
				t.Logf("%s exists: waiting for the measurement to end", measuringLock)
			}
			time.Sleep(5 * time.Second)
		}
	}
	progress := func(i int, r Result) {
		t.Logf("%2d/%d %-45s exact %6.2fs fast %5.2fs  score %.2f  %s", i+1, len(specs), r.Name,
			r.ExactTime.WallS, r.FastTime.WallS, r.Score(), largest(r, 2))
	}
	rs, err := RunCorpus(context.Background(), specs, saved, before, progress)
	if err != nil {
		t.Fatal(err)
	}
	header := "Measured at " + time.Now().UTC().Format(time.RFC3339) + ", " + runtime.Version() + ", " +
		describeCommit() + ", GOMAXPROCS " + strconv.Itoa(runtime.GOMAXPROCS(0)) + "; one run at a time." + savedNote
	var md bytes.Buffer
	Report(&md, rs, header)
	js, err := json.MarshalIndent(struct {
		Header  string   `json:"header"`
		Summary Summary  `json:"summary"`
		Results []Result `json:"results"`
	}{header, Summarise(rs), rs}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"fast-corpus.md": md.Bytes(), "fast-corpus.json": append(js, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs, _ := filepath.Abs(filepath.Join(dir, "fast-corpus.md"))
	t.Logf("wrote %s and fast-corpus.json", abs)
}

// describeCommit is the checkout's commit (git describe --always --dirty),
// or "commit unknown".
func describeCommit() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "commit unknown"
	}
	return "commit " + strings.TrimSpace(string(out))
}
