package procstat

import (
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	data := "cpu  100 5 50 1000 20 3 2 1 7 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1 2\n"
	h, err := ParseProcStat([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	// busy = 100+5+50+3+2+1 = 161 ticks (guest, 7, is inside user); idle = 1020.
	if h.Busy != 161*tick || h.Idle != 1020*tick {
		t.Fatalf("got %+v, want busy %s idle %s", h, 161*tick, 1020*tick)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if _, err := ParseProcStat([]byte(bad)); err == nil || !strings.Contains(err.Error(), "/proc/stat") {
			t.Errorf("%q: got %v, want an error naming /proc/stat", bad, err)
		}
	}
}

func TestHostCPULive(t *testing.T) {
	h, err := FS{}.HostCPU()
	if err != nil {
		t.Skip(err) // not Linux
	}
	if h.Busy <= 0 || h.Idle < 0 || h.Busy > 1e6*time.Hour {
		t.Fatalf("implausible host CPU %+v", h)
	}
}
