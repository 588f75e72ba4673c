package scenario_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// extremesBase is a small valid cluster scenario with every optional section
// present, so that each numeric field below is checked in context.
func extremesBase() spec.Spec {
	return spec.Spec{
		Name: "extremes", Seed: 1, Duration: spec.Duration(20 * time.Second), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 6, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain",
			StartSpread: spec.Duration(time.Second),
			Restart:     spec.RestartSpec{At: spec.Duration(10 * time.Second), Over: spec.Duration(2 * time.Second), Fraction: 0.5, Down: spec.Duration(time.Second)}},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2},
		Costs:   spec.CostsSpec{IdleCores: new(0.01)},
		Faults: []spec.FaultSpec{
			{At: spec.Duration(5 * time.Second), Kind: spec.FaultLeaderChange, To: 1, Duration: spec.Duration(time.Second)},
			{At: spec.Duration(8 * time.Second), Kind: spec.FaultPartition, Member: 2, Duration: spec.Duration(time.Second)},
		},
	}
}

// numericField is one settable numeric field of a Spec: its YAML path and a
// pointer to it in s.
type numericField struct {
	path string
	v    reflect.Value // addressable
}

// numericFields walks s (a pointer to a Spec) and returns every numeric
// field (ints, uints, floats, Durations; through pointers, which it fills in;
// through slices' elements), with its YAML path.
func numericFields(v reflect.Value, path string) []numericField {
	var out []numericField
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return numericFields(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			out = append(out, numericFields(v.Field(i), p)...)
		}
	case reflect.Slice:
		for i := range v.Len() {
			out = append(out, numericFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		out = append(out, numericField{path, v})
	}
	return out
}

// fieldLine is one problem: "path.to.field: message".
var fieldLine = regexp.MustCompile(`^[a-z_]+(\[[0-9]+\])?(\.[a-z_]+)*: `)

// extremeValues are the values each kind of field is tried with.
func extremeValues(k reflect.Kind) []any {
	switch k {
	case reflect.Int, reflect.Int64:
		return []any{int64(math.MinInt64), int64(-1), int64(0), int64(1), int64(math.MaxInt64)}
	case reflect.Uint64:
		return []any{uint64(0), uint64(1), uint64(math.MaxUint64)}
	case reflect.Float64:
		return []any{math.Inf(-1), -1.0, 0.0, 5e-324, 1e-300, 1e-9, 1e300, math.MaxFloat64, math.Inf(1), math.NaN()}
	}
	panic(k)
}

// Every numeric field of the spec, at each extreme of its type, is either
// accepted and runs (a short stretch of virtual time) or refused with an
// error that names the field and what is allowed; never a panic. The
// numbers inside text fields (consumer, renew_at, placement) too.
func TestEveryNumericFieldAtItsExtremes(t *testing.T) {
	type tcase struct {
		path string
		val  string
		s    spec.Spec
	}
	var cases []tcase
	probe := extremesBase()
	for _, f := range numericFields(reflect.ValueOf(&probe).Elem(), "") {
		for _, x := range extremeValues(f.v.Kind()) {
			s := extremesBase()
			for _, g := range numericFields(reflect.ValueOf(&s).Elem(), "") {
				if g.path != f.path {
					continue
				}
				switch x := x.(type) {
				case int64:
					g.v.SetInt(x)
				case uint64:
					g.v.SetUint(x)
				case float64:
					g.v.SetFloat(x)
				}
				cases = append(cases, tcase{f.path, fmt.Sprint(x), s})
			}
		}
	}
	text := map[string][]string{
		"clients.consumer": {"rate:5e-324", "rate:1e-10", "rate:1.0842e-10", "rate:1e-9", "rate:1e6", "rate:1e7", "rate:NaN", "rate:Inf", "rate:-1",
			"stop-after:9223372036854775807", "stop-after:-1", "stall:0s-2562047h", "stall:2562047h-2562047h47m16s", "stall:0s-168h", "stall:0s-169h", "stall:-1ns-1s"},
		"clients.renew_at":  {"1/1000", "999/1000", "1/1001", "9223372036854775807/9223372036854775807", "0/3", "-1/3"},
		"clients.placement": {"member:0", "member:2", "member:3", "member:-1", "member:9223372036854775807", "member:99999999999999999999"},
	}
	for path, vals := range text {
		for _, v := range vals {
			s := extremesBase()
			switch path {
			case "clients.consumer":
				s.Clients.Consumer = v
			case "clients.renew_at":
				s.Clients.RenewAt = v
			case "clients.placement":
				s.Clients.Placement = v
			}
			cases = append(cases, tcase{path, v, s})
		}
	}
	if len(cases) < 150 {
		t.Fatalf("only %d cases: the walk missed fields", len(cases))
	}
	accepted := 0
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s = %s: panic: %v", c.path, c.val, r)
				}
			}()
			r, err := c.s.Resolve()
			if err != nil {
				// Each problem names its field and what is allowed. A value
				// may be refused through another field that it contradicts
				// (cluster.members 1 makes faults[0].to no member).
				for _, line := range strings.Split(err.Error(), "\n") {
					if !fieldLine.MatchString(line) || !(strings.Contains(line, "allowed") || strings.Contains(line, "must be of the form")) {
						t.Errorf("%s = %s: refused without naming the field and what is allowed: %q", c.path, c.val, line)
					}
				}
				if !strings.Contains(err.Error(), c.path) && !strings.Contains(err.Error(), "faults[") && !strings.Contains(err.Error(), "idle_cores") {
					t.Errorf("%s = %s: the error does not name the field: %v", c.path, c.val, err)
				}
				return
			}
			accepted++
			if r.Cluster.Clients > 1000 || r.Cluster.Members*r.Cluster.Clients > 100_000 {
				return // valid, but too big to run in a unit test
			}
			m, err := scenario.StartCluster(*r.Cluster, scenario.Options{}, nil)
			if err != nil {
				t.Errorf("%s = %s: start: %v", c.path, c.val, err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for m.Now() < min(r.Cluster.Duration, 10*time.Second) && ctx.Err() == nil {
				if err := m.Advance(time.Second); err != nil && !strings.Contains(err.Error(), "max_events") {
					t.Errorf("%s = %s: %v", c.path, c.val, err)
					return
				}
			}
		}()
	}
	t.Logf("%d cases, %d accepted and run", len(cases), accepted)
}
