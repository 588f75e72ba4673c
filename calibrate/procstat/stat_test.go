package procstat

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// statLine builds a /proc/PID/stat line with the given comm and the given
// utime and stime, with every other field copied from a real line.
func statLine(comm, utime, stime string) string {
	// Fields 3..52 of testdata/proc/5320/stat, with 14 and 15 replaced.
	after := strings.Fields("S 5287 5283 3854 0 -1 4194560 361 0 0 0 29 1 0 0 20 0 5 0 796744 1561640960 1121 18446744073709551615 4194304 5181696 140726621894848 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 6479872 6527584 503300096 140726621903289 140726621903325 140726621903325 140726621904852 0")
	after[statFieldUtime-statFieldState] = utime
	after[statFieldStime-statFieldState] = stime
	return "5320 (" + comm + ") " + strings.Join(after, " ") + "\n"
}

func TestParseStat(t *testing.T) {
	readFixture := func(p string) string {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name      string
		data      string
		user, sys time.Duration
	}{
		// A Go process that had burnt about 0.3 s of CPU (utime 29, stime 1).
		{"real go process", readFixture("proc/5320/stat"), 290 * time.Millisecond, 10 * time.Millisecond},
		// A copy of sleep(1) named "my (weird) proc"; it had used no CPU yet.
		{"real comm with spaces and parens", readFixture("proc/4961/stat"), 0, 0},
		// A name made of numbers would shift every field if split on spaces.
		{"comm of numbers and spaces", statLine("1 2 3 4 5 6 7 8 9 10 11 12", "1234", "56"), 12340 * time.Millisecond, 560 * time.Millisecond},
		{"comm ending in ')'", statLine("x) (y))", "7", "3"), 70 * time.Millisecond, 30 * time.Millisecond},
		{"comm with ') S 1 2'", statLine("a) S 1 2", "100", "0"), time.Second, 0},
		{"empty comm", statLine("", "250", "350"), 2500 * time.Millisecond, 3500 * time.Millisecond},
		{"no trailing newline", strings.TrimSuffix(statLine("sh", "2", "1"), "\n"), 20 * time.Millisecond, 10 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.data))
			if err != nil {
				t.Fatalf("ParseStat: %v", err)
			}
			want := CPUTimes{User: tc.user, System: tc.sys}
			if got != want {
				t.Errorf("ParseStat = %+v, want %+v", got, want)
			}
			if got.Total() != tc.user+tc.sys {
				t.Errorf("Total() = %v, want %v", got.Total(), tc.user+tc.sys)
			}
		})
	}
}

func TestParseStatErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the error
	}{
		{"stat-no-comm", []string{"comm field (2)"}},
		{"stat-truncated", []string{"10 fields after comm", "stime (field 15)"}},
		{"stat-bad-utime", []string{"utime (field 14)", `"2x"`}},
		{"stat-negative-stime", []string{"stime (field 15)", `"-1"`}},
		{"stat-bad-pid", []string{"pid field (1)", `"pid "`}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "malformed", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseStat(data)
			if err == nil {
				t.Fatalf("ParseStat = %+v, want an error", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := ParseStat(nil); err == nil {
		t.Error("ParseStat(nil) succeeded, want an error")
	}
}

func TestProcessCPU(t *testing.T) {
	fsys := FS{Root: filepath.Join("testdata", "proc")}
	tests := []struct {
		pid  int
		want CPUTimes
	}{
		{0, CPUTimes{User: 290 * time.Millisecond, System: 10 * time.Millisecond}}, // self -> 5320/stat
		{5320, CPUTimes{User: 290 * time.Millisecond, System: 10 * time.Millisecond}},
		{4961, CPUTimes{}}, // 4961/stat
	}
	for _, tc := range tests {
		got, err := fsys.ProcessCPU(tc.pid)
		if err != nil {
			t.Errorf("ProcessCPU(%d): %v", tc.pid, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ProcessCPU(%d) = %+v, want %+v", tc.pid, got, tc.want)
		}
	}

	if _, err := fsys.ProcessCPU(999); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ProcessCPU(999) error = %v, want one wrapping fs.ErrNotExist", err)
	}
	if _, err := fsys.ProcessCPU(-1); err == nil || !strings.Contains(err.Error(), "-1") {
		t.Errorf("ProcessCPU(-1) error = %v, want one naming the pid", err)
	}

	// A malformed file is reported with its path.
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "7"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "7", "stat"), []byte("7 (x) S 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := FS{Root: root}.ProcessCPU(7)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "7", "stat")) {
		t.Errorf("ProcessCPU(7) on a truncated file: error %v, want one naming the file", err)
	}
}

// ProcessCPU (through prometheus/procfs) and ParseStat read the same
// fixtures the same way.
func TestProcessCPUAgreesWithParseStat(t *testing.T) {
	fsys := FS{Root: filepath.Join("testdata", "proc")}
	for _, pid := range []int{5320, 4961} {
		data, err := os.ReadFile(filepath.Join("testdata", "proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := ParseStat(data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fsys.ProcessCPU(pid)
		if err != nil || got != want {
			t.Errorf("pid %d: ProcessCPU %+v, %v; ParseStat %+v", pid, got, err, want)
		}
	}
}
