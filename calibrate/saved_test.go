package calibrate

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

// TestSavedCalibrationAgrees replays the measurements `make calibrate` took
// on this project's machine (testdata/, 18 runs of a real 3-member etcd 3.7.3
// cluster) through today's model with the shipped parameter file, which was
// fitted from them. A model change that breaks agreement with the real
// cluster fails here, without starting one.
//
// Tolerances are the CI agreement test's: renewals/s within 5 %, renew
// interval p50 within 2 %, no expirations. Server CPU within 25 % (the fit's
// worst residual is 19 %). The runs in knownApart disagree today, for the
// reason given; they are checked to still disagree, so that fixing the model
// shows up here too.
func TestSavedCalibrationAgrees(t *testing.T) {
	b, err := os.ReadFile("testdata/full-2026-11-25.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Runs []struct {
			Measured Measurement `json:"measured"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// After the pooled peer connections idle out (long TTLs), every renewal
	// burst from followers re-dials and handshakes on the shared 2 cores; the
	// real forwards' RTT then straddles the 12 ms and 500 ms thresholds that
	// decide the next scan and a duplicate request differently from the
	// model's (see README, calibration).
	knownApart := map[string]string{
		"50-ttl30s-spread":      "forwarded RTT around the 12 ms scan threshold",
		"50-ttl1m0s-spread":     "forwarded RTT around the 24 ms scan threshold",
		"500-ttl30s-followers":  "duplicate requests while handshakes pile up: measured 1.35x, model more",
		"500-ttl1m0s-followers": "duplicate requests while handshakes pile up: measured 1.0x, model more",
	}
	for _, r := range doc.Runs {
		m := r.Measured
		p, err := Predict(context.Background(), m, "default")
		if err != nil {
			t.Fatal(err)
		}
		c := Compare(m, p, "default")
		bad := ""
		for _, chk := range []struct {
			row string
			tol float64
		}{{"keepalives/s (clients)", 0.05}, {"renew interval p50", 0.02}, {"server CPU, loaded", 0.25}, {"leases expired", 0}, {"keys lost", 0}} {
			row, _ := c.Row(chk.row)
			if row.RelErr == nil || *row.RelErr > chk.tol || *row.RelErr < -chk.tol {
				bad += " " + chk.row
			}
		}
		why, known := knownApart[m.Config.Name]
		switch {
		case bad != "" && !known:
			t.Errorf("%s: leasesim disagrees with the real cluster on%s", m.Config.Name, bad)
		case bad == "" && known:
			t.Errorf("%s: now agrees (was: %s): remove it from knownApart", m.Config.Name, why)
		}
	}
}
