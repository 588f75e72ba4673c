package scripted_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

var update = flag.Bool("update", false, "rewrite testdata/scripts.json from the generator")

// corpusSize is the number of scripts the legacy goldens are recorded on.
const corpusSize = 250

const scriptsPath = "testdata/scripts.json"

// The read-then-sleep consumer's corpus (scripted.PaceCorpus) and its size.
const (
	paceScriptsPath = "testdata/scripts-pace.json"
	paceCorpusSize  = 40
)

// The re-granting processes' corpus (scripted.RegrantCorpus) and its size.
const (
	regrantScriptsPath = "testdata/scripts-regrant.json"
	regrantCorpusSize  = 30
)

// The several-leases processes' corpus (scripted.OthersCorpus) and its size.
const (
	othersScriptsPath = "testdata/scripts-others.json"
	othersCorpusSize  = 30
)

// TestMain raises rapid's default budget for this package to the 250 generated
// scenarios the differential test promises, unless -rapid.checks is given.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "rapid.checks" })
	if !given {
		_ = flag.Set("rapid.checks", "250")
	}
	os.Exit(m.Run())
}

// writeJSONArray writes one element per line, so that goldens diff well.
func writeJSONArray[T any](path string, items []T) error {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, it := range items {
		line, err := json.Marshal(it)
		if err != nil {
			return err
		}
		b.Write(line)
		if i < len(items)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// The committed corpus is exactly what the generator makes; the legacy goldens
// were recorded on it.
func TestCorpusIsCurrent(t *testing.T) {
	want := scripted.Corpus(corpusSize)
	if *update {
		if err := writeJSONArray(scriptsPath, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := scripted.LoadScripts(scriptsPath)
	if err != nil {
		t.Fatalf("%v (regenerate with: go test ./clientmodel/scripted -run TestCorpusIsCurrent -update)", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s is stale: regenerate it with -update, then re-record the legacy goldens (clientmodel/legacy/README.md)", scriptsPath)
	}
	for _, s := range got {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
}

// The committed pace corpus is exactly scripted.PaceCorpus; the legacy
// goldens golden-pace-<version>.json were recorded on it.
func TestPaceCorpusIsCurrent(t *testing.T) {
	want := scripted.PaceCorpus(paceCorpusSize)
	if *update {
		if err := writeJSONArray(paceScriptsPath, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := scripted.LoadScripts(paceScriptsPath)
	if err != nil {
		t.Fatalf("%v (regenerate with: make corpus)", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s is stale: regenerate it with make corpus (it re-records the legacy goldens)", paceScriptsPath)
	}
}

// The committed regrant corpus is exactly scripted.RegrantCorpus; the legacy
// goldens golden-regrant-<version>.json were recorded on it.
func TestRegrantCorpusIsCurrent(t *testing.T) {
	want := scripted.RegrantCorpus(regrantCorpusSize)
	if *update {
		if err := writeJSONArray(regrantScriptsPath, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := scripted.LoadScripts(regrantScriptsPath)
	if err != nil {
		t.Fatalf("%v (regenerate with: make corpus)", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s is stale: regenerate it with make corpus (it re-records the legacy goldens)", regrantScriptsPath)
	}
}

// The committed others corpus is exactly scripted.OthersCorpus; the legacy
// goldens golden-others-<version>.json were recorded on it.
func TestOthersCorpusIsCurrent(t *testing.T) {
	want := scripted.OthersCorpus(othersCorpusSize)
	if *update {
		if err := writeJSONArray(othersScriptsPath, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := scripted.LoadScripts(othersScriptsPath)
	if err != nil {
		t.Fatalf("%v (regenerate with: make corpus)", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s is stale: regenerate it with make corpus (it re-records the legacy goldens)", othersScriptsPath)
	}
}

// legacyGolden loads the timeline recorded from the real legacy library on
// the main corpus.
func legacyGolden(t *testing.T, version string) ([]scripted.Script, []scripted.Result) {
	t.Helper()
	return legacyGoldenOf(t, scriptsPath, "golden-"+version+".json")
}

// legacyGoldenOf loads the corpus at scripts and the real legacy library's
// results on it, testdata/golden.
func legacyGoldenOf(t *testing.T, scriptsPath, golden string) ([]scripted.Script, []scripted.Result) {
	t.Helper()
	scripts, err := scripted.LoadScripts(scriptsPath)
	if err != nil {
		t.Fatal(err)
	}
	results, err := scripted.LoadResults(filepath.Join("testdata", golden))
	if err != nil {
		t.Fatalf("%v (record it with the nested module: clientmodel/legacy/README.md)", err)
	}
	if len(results) != len(scripts) {
		t.Fatalf("%s has %d results for %d scripts", golden, len(results), len(scripts))
	}
	return scripts, results
}

// The model, given the pre-fix (v3.3.8) or fixed (v3.3.9) rule, reproduces the
// real legacy library's request timeline, consumer reads and close, per lease,
// on every script of the corpus, of the pace corpus (read-then-sleep
// consumers, with the TTL 3 s, 0.3 reads/s case), of the regrant corpus
// (processes that keep a new lease alive after their channel closed) and of
// the others corpus (processes with several leases: clientmodel.Process).
func TestModelMatchesLegacyGoldens(t *testing.T) {
	for _, c := range []struct{ version, scripts, golden string }{
		{"v3.3.8", scriptsPath, "golden-v3.3.8.json"},
		{"v3.3.9", scriptsPath, "golden-v3.3.9.json"},
		{"v3.3.8", paceScriptsPath, "golden-pace-v3.3.8.json"},
		{"v3.3.9", paceScriptsPath, "golden-pace-v3.3.9.json"},
		{"v3.3.8", regrantScriptsPath, "golden-regrant-v3.3.8.json"},
		{"v3.3.9", regrantScriptsPath, "golden-regrant-v3.3.9.json"},
		{"v3.3.8", othersScriptsPath, "golden-others-v3.3.8.json"},
		{"v3.3.9", othersScriptsPath, "golden-others-v3.3.9.json"},
	} {
		version := c.version
		t.Run(c.golden, func(t *testing.T) {
			scripts, golden := legacyGoldenOf(t, c.scripts, c.golden)
			v, err := clientmodel.ParseVersion(version)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range scripts {
				got, err := scripted.Replay(s, v)
				if err != nil {
					t.Fatal(err)
				}
				if d := scripted.Diff(golden[i], got); d != "" {
					t.Errorf("%s: model differs from real %s:\n%s", s.Name, version, d)
				}
			}
		})
	}
}

// The differential test has teeth: given the other version's rule, the model
// disagrees with the real library on a good share of the corpus.
func TestModelWithTheOtherRuleIsCaught(t *testing.T) {
	for _, c := range []struct{ golden, wrong string }{{"v3.3.8", "v3.3.9"}, {"v3.3.9", "v3.3.8"}} {
		scripts, golden := legacyGolden(t, c.golden)
		v, _ := clientmodel.ParseVersion(c.wrong)
		v.Name = c.golden
		differ := 0
		for i, s := range scripts {
			got, err := scripted.Replay(s, v)
			if err != nil {
				t.Fatal(err)
			}
			if scripted.Diff(golden[i], got) != "" {
				differ++
			}
		}
		t.Logf("model with the %s rule differs from real %s on %d of %d scripts", c.wrong, c.golden, differ, len(scripts))
		if differ < len(scripts)/10 {
			t.Errorf("only %d of %d scripts tell %s from %s: the corpus is too weak", differ, len(scripts), c.wrong, c.golden)
		}
	}
}
