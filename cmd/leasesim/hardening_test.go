package main

import (
	"bytes"
	"github.com/leasesim/leasesim/spec"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 15, defect 2: outputs replaced what was at the path. A FIFO given to
// --trace is streamed to (it stays a FIFO); a symlink given to --csv's files
// or --prom is followed (the link stays, its target is written).
func TestOutputsDoNotReplaceSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "trace.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	got := make(chan int)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- len(b)
	}()
	target := filepath.Join(dir, "real.prom")
	link := filepath.Join(dir, "link.prom")
	if err := os.Symlink("real.prom", link); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--duration", "10s", "--trace", fifo, "--prom", link}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if n := <-got; n == 0 {
		t.Fatal("nothing came through the FIFO")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v", fi.Mode())
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
	if b, err := os.ReadFile(target); err != nil || !strings.Contains(string(b), "# EOF") {
		t.Fatalf("the link's target was not written: %v", err)
	}
}

// Issue 15, defect 4: a run that cannot fit in memory is refused before it
// starts, with the estimate and the flags that would make it fit.
func TestRunThatCannotFitIsRefused(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"run", "--server", "cluster", "--clients", "10000000", "--duration", "10m"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "of memory") || !strings.Contains(errb.String(), "--force") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// The estimate multiplies by the runs that go side by side: one run fits
	// where two in parallel do not.
	saved := availableMemory
	defer func() { availableMemory = saved }()
	availableMemory = func() uint64 { return 1 << 30 }
	sc, err := specFor("", map[string]string{"server": "cluster", "clients": "300000", "duration": "1m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkMemory([]spec.Spec{sc}, 1, false, "x"); err != nil {
		t.Fatalf("one run: %v", err)
	}
	if err := checkMemory([]spec.Spec{sc, sc}, 2, false, "x"); err == nil {
		t.Fatal("two side by side: not refused")
	}
	if err := checkMemory([]spec.Spec{sc, sc}, 2, true, "x"); err != nil {
		t.Fatalf("--force: %v", err)
	}
}

// Issue 15, defect 5: 'report --sweep' from an interrupted sweep stated a
// verdict for configurations never probed; now it refuses.
func TestReportRefusesIncompleteSweep(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "part.json")
	data := `{"scenario":"incident-2018","seed":1,"cpu_target":0.7,"grid":[{"flag":"clients","values":["100","200"]}],` +
		`"grid_size":2,"complete":false,"interrupted":true,"rows":[{"index":0,"values":{"clients":"100"},"seed":1,"renewals_per_s":1,` +
		`"leader_cpu_peak":0.1,"leases_expired":0,"keys_lost":0,"peak_new_conns_per_s":0,"peak_handshakes_per_s":0,` +
		`"peak_queue_bytes":0,"peak_time_wait":0,"peak_dial_errors_per_s":0,"verdict":"ok"}]}`
	if err := os.WriteFile(part, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := filepath.Join(dir, "small.yaml")
	os.WriteFile(sc, []byte("name: small\nseed: 1\nduration: 10s\nserver: cluster\n"+
		"clients: {count: 100, ttl: 10s, version: v3.7.3, consumer: drain}\ncluster: {members: 3, cores: 2}\n"), 0o644)
	out := filepath.Join(dir, "r.html")
	var o, errb bytes.Buffer
	code := run([]string{"report", "--scenario", sc, "--sweep", part, "--out", out, "-q"}, &o, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "incomplete") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a report was written")
	}
}

// Issue 15, defect 6: Ctrl-C during 'run --trace' left a hidden temporary
// file. Now one signal path: SIGINT stops the run, removes the temporary
// files and exits 130.
func TestInterruptedRunLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "run", "--scenario", "incident-2018-ttl600", "--trace", filepath.Join(dir, "t.json"))
	cmd.Env = append(os.Environ(), "LEASESIM_BE_MAIN=1")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the run has created its temporary trace file.
	deadline := time.Now().Add(30 * time.Second)
	for {
		es, _ := os.ReadDir(dir)
		if len(es) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v; stderr: %s", err, errb.String())
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Fatalf("left behind: %v", es)
	}
}

// Issue 15, defect 7: 'sweep --cpu-target NaN' silently became 70 %.
func TestCPUTargetNaNRefused(t *testing.T) {
	for _, v := range []string{"NaN", "nan", "0", "-5", "101", "x"} {
		if _, err := parseCPUTarget(v); err == nil {
			t.Errorf("--cpu-target %s accepted", v)
		}
	}
	if f, err := parseCPUTarget("70"); err != nil || f != 0.7 {
		t.Fatalf("70: %v %v", f, err)
	}
}
