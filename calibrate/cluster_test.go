package calibrate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// Tests in this file start real etcd clusters; -short skips them.

// TestCIAgreement is the CI-sized calibration: 30 real clients at TTL 5 s
// against a real 3-member cluster, beside leasesim's prediction. Tolerances
// (issue 6): renewals/s within 5 %, renew-interval p50 within 2 %, no
// expirations in either.
func TestCIAgreement(t *testing.T) {
	needsRealCluster(t, "~50 s")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cfg := Sets["ci"]()[0]
	cfg.Seed = 1
	var log strings.Builder
	m, err := Measure(context.Background(), clock.New(), cfg, false, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	p, err := Predict(context.Background(), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	c := Compare(m, p, "default")
	var table strings.Builder
	c.WriteTable(&table)
	t.Logf("\n%s", table.String())
	within := func(name string, tol float64) {
		t.Helper()
		r, ok := c.Row(name)
		if !ok || r.RelErr == nil {
			t.Errorf("%s: no comparable figures (%+v)", name, r)
			return
		}
		if e := *r.RelErr; e > tol || e < -tol {
			t.Errorf("%s: measured %.4g, leasesim %.4g: error %+.2f%% exceeds ±%.0f%%", name, r.Measured, *r.Predicted, e*100, tol*100)
		}
	}
	within("keepalives/s (clients)", 0.05)
	within("keepalives/s received (server)", 0.05)
	within("renewals/s at the leader", 0.05)
	within("renew interval p50", 0.02)
	if m.LeasesRevoked != 0 || m.KeysLost != 0 || p.LeasesExpired != 0 || p.KeysLost != 0 {
		t.Errorf("expirations: measured %d revoked / %d keys lost, leasesim %d / %d; want none", m.LeasesRevoked, m.KeysLost, p.LeasesExpired, p.KeysLost)
	}
	// The measurement must be real: every client renewed in the window.
	if m.IntervalMs.Count < cfg.Clients*int(cfg.Window/RenewPeriod(cfg.TTL)-1) {
		t.Errorf("only %d intervals measured", m.IntervalMs.Count)
	}
	if m.ServerCores <= 0 || m.ClientCores <= 0 {
		t.Errorf("CPU not measured: server %v client %v", m.ServerCores, m.ClientCores)
	}
	assertEmptyDir(t, tmp)
}

// TestErrorCleansUp: etcd refuses the grant (TTL above its 9e9 s maximum,
// server/v3 lease/lessor.go MaxLeaseTTL), the agent fails, and Measure must
// leave no cluster, process or directory behind.
func TestErrorCleansUp(t *testing.T) {
	needsRealCluster(t, "a few seconds")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cfg := Config{Clients: 2, TTL: 9_100_000_000 * time.Second, Window: time.Second, Idle: 100 * time.Millisecond}
	var log strings.Builder
	_, err := Measure(context.Background(), clock.New(), cfg, false, &log)
	if err == nil || !strings.Contains(err.Error(), "too large lease TTL") {
		t.Fatalf("got %v, want etcd's refusal of the TTL\n%s", err, log.String())
	}
	pid := agentPid(t, log.String())
	assertGone(t, pid)
	assertEmptyDir(t, tmp)
}

const cleanupChildEnv = "LEASESIM_CALIBRATE_CLEANUP_CHILD"

// maybeRunCleanupChild is the calibration TestInterruptCleansUp interrupts:
// it measures until SIGINT, printing its progress on stdout.
func maybeRunCleanupChild() {
	if os.Getenv(cleanupChildEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := Config{Clients: 5, TTL: 5 * time.Second, Window: 10 * time.Minute, Idle: 100 * time.Millisecond, Warmup: time.Millisecond}
	_, err := Measure(ctx, clock.New(), cfg, false, os.Stdout)
	fmt.Printf("measure returned: %v\n", err)
	if ctx.Err() == nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// TestInterruptCleansUp sends SIGINT to a calibration mid-measurement: the
// agent process, the members and the temporary directory must all be gone.
func TestInterruptCleansUp(t *testing.T) {
	needsRealCluster(t, "a few seconds")
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cleanupChildEnv+"=1", "TMPDIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var seen strings.Builder
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "measuring for") {
			break
		}
	}
	pid := agentPid(t, seen.String())
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("agent %d not running while measuring: %v", pid, err)
	}
	cmd.Process.Signal(os.Interrupt)
	rest, _ := io.ReadAll(out)
	seen.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("interrupted calibration exited with %v:\n%s", err, seen.String())
	}
	if !strings.Contains(seen.String(), "measure returned: context canceled") {
		t.Fatalf("Measure did not stop on SIGINT:\n%s", seen.String())
	}
	assertGone(t, pid)
	assertEmptyDir(t, tmp)
}

// needsRealCluster skips with -short, and off Linux (the harness reads /proc).
func needsRealCluster(t *testing.T, cost string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real etcd cluster: " + cost)
	}
	if runtime.GOOS != "linux" {
		t.Skip("the calibration harness measures through Linux's /proc")
	}
}

// agentPid reads the agent's pid from Measure's progress.
func agentPid(t *testing.T, progress string) int {
	t.Helper()
	_, rest, ok := strings.Cut(progress, "clients run in process ")
	if !ok {
		t.Fatalf("no agent pid in the progress:\n%s", progress)
	}
	f := strings.Fields(rest)
	pid, err := strconv.Atoi(strings.TrimRight(f[0], ",;."))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// assertGone waits up to 5 s for process pid to disappear (it may be a
// zombie until its parent reaps it: /proc/pid/stat then says state Z).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	for range 50 {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("agent process %d is still running", pid)
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
	}
}
