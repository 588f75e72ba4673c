package clientmodel_test

import (
	"strings"
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
)

// panics reports the panic message of f, or "".
func panics(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg, _ = r.(string)
		}
	}()
	f()
	return ""
}

// A second KeepAlive needs Config.Regrant and a closed channel; with both it
// is the Client's second lease, and a response or a cancel for the first is
// ignored.
func TestRegrantRules(t *testing.T) {
	var out []clientmodel.Output
	c := clientmodel.New(clientmodel.Config{})
	out = c.Step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive}, out[:0])
	out = c.Step(1, clientmodel.Input{Kind: clientmodel.InCancel}, out[:0])
	if m := panics(func() { c.Step(2, clientmodel.Input{Kind: clientmodel.InKeepAlive}, nil) }); !strings.Contains(m, "Config.Regrant") {
		t.Fatalf("a second KeepAlive without Regrant: panic %q", m)
	}

	c = clientmodel.New(clientmodel.Config{Regrant: true})
	out = c.Step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive}, out[:0])
	if m := panics(func() { c.Step(1, clientmodel.Input{Kind: clientmodel.InKeepAlive}, nil) }); !strings.Contains(m, "still kept alive") {
		t.Fatalf("a second KeepAlive while the first is active: panic %q", m)
	}
	out = c.Step(1, clientmodel.Input{Kind: clientmodel.InCancel}, out[:0])
	out = c.Step(2, clientmodel.Input{Kind: clientmodel.InKeepAlive}, out[:0])
	if c.Grants() != 2 || !c.Active() || c.NextKeepAlive() != 2 {
		t.Fatalf("after the regrant: grants %d, active %v, nextKeepAlive %d", c.Grants(), c.Active(), c.NextKeepAlive())
	}
	gen, _ := c.Stream()
	out = c.Step(3, clientmodel.Input{Kind: clientmodel.InResponse, Gen: gen, TTL: 0, Lease: 1}, out[:0])
	out = c.Step(4, clientmodel.Input{Kind: clientmodel.InCancel, Lease: 1}, out[:0])
	if !c.Active() || len(out) != 0 {
		t.Fatalf("a revocation and a cancel for the first lease reached the second: active %v, %v", c.Active(), out)
	}
	out = c.Step(5, clientmodel.Input{Kind: clientmodel.InCancel, Lease: 2}, out[:0])
	if c.Active() {
		t.Fatal("cancelling the second lease left it active")
	}
}
