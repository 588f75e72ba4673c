package properties

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// userChecks is -rapid.checks as given (rapid's default, 100, if not given).
// Each property scales its own budget from it, so that `-rapid.checks=N`
// raises every budget N/100-fold (make check-long).
var userChecks = 100

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("rapid.checks"); f != nil {
		if n, err := strconv.Atoi(f.Value.String()); err == nil {
			userChecks = n
		}
	}
	os.Exit(m.Run())
}

// budget is n checks at the default -rapid.checks=100, scaled.
func budget(n int) int { return max(1, n*userChecks/100) }

// withChecks runs f with rapid's check count set to budget(n).
func withChecks(t *testing.T, n int, f func()) {
	t.Helper()
	old := flag.Lookup("rapid.checks").Value.String()
	if err := flag.Set("rapid.checks", strconv.Itoa(budget(n))); err != nil {
		t.Fatal(err)
	}
	defer flag.Set("rapid.checks", old)
	f()
}
