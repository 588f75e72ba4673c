package calibrate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// saveMeasurement writes a measurement (a TestMeasure* test's result) to
// path under testdata, as indented JSON; loadMeasurement reads one back for
// the test that replays it.
func saveMeasurement(t *testing.T, path string, m any) {
	t.Helper()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.FromSlash(path), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadMeasurement(t *testing.T, path string, m any) {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
