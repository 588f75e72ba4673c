package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/sim"
)

// The range of rate:N. Below MinRate the period, 1s/N, would not fit the
// simulator's time arithmetic: at N < ~1.08e-10 it overflows int64
// nanoseconds, and the client adds it to start times of up to MaxDuration. At
// 1e-9 (one read per ~31.7 years) a period plus twice MaxDuration still fits
// with room to spare; any rate below one read per run behaves as "never".
const (
	MinRate = 1e-9
	MaxRate = 1e6
)

// ConsumerForms lists the consumer syntax, for error messages and help text.
const ConsumerForms = "drain, never, rate:N, pace:N, stop-after:K, stall:FROM-TO"

// ParseConsumer parses how the application reads its KeepAlive channel:
//
//	drain           reads every response as soon as it is delivered
//	never           never reads (the 2018 agents)
//	rate:N          reads N responses per second, 1e-9 <= N <= 1e6, on a
//	                fixed grid (a ticker; non-blocking)
//	pace:N          reads a response as soon as there is one, then sleeps
//	                1/N s (the usual loop: for r := range ch { ...; Sleep })
//	stop-after:K    reads K >= 0 responses, then stops
//	stall:FROM-TO   stops reading between FROM and TO after its KeepAlive
//	                (Go durations, 0 <= FROM < TO <= 168h, e.g. stall:10m-20m)
//
// The syntax and checks are those of the --consumer flag. Errors quote the
// value and name the allowed forms; they carry no field name, so callers
// prefix their own ("--consumer: ", "clients.consumer: ").
func ParseConsumer(s string) (clientmodel.Consumer, error) {
	kindName, arg, hasArg := strings.Cut(s, ":")
	kind, err := clientmodel.ParseConsumerKind(kindName)
	if err != nil {
		return clientmodel.Consumer{}, fmt.Errorf("%q is unknown; allowed: %s", s, ConsumerForms)
	}
	c := clientmodel.Consumer{Kind: kind}
	bad := func(form string) (clientmodel.Consumer, error) {
		return clientmodel.Consumer{}, fmt.Errorf("%q must be of the form %s", s, form)
	}
	switch kind {
	case clientmodel.Drain, clientmodel.Never:
		if hasArg {
			return bad(kindName)
		}
	case clientmodel.Rate, clientmodel.Pace:
		n, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(n >= MinRate && n <= MaxRate) { // !(...) also rejects NaN
			return bad(kindName + ":N with 1e-9 <= N <= 1e6 reads per second")
		}
		c.Period = time.Duration(float64(time.Second) / n)
	case clientmodel.StopAfter:
		k, err := strconv.Atoi(arg)
		if err != nil || k < 0 {
			return bad("stop-after:K with K >= 0")
		}
		c.K = k
	case clientmodel.Stall:
		a, b, ok := strings.Cut(arg, "-")
		from, err1 := time.ParseDuration(a)
		to, err2 := time.ParseDuration(b)
		if !ok || err1 != nil || err2 != nil || from < 0 || to <= from || to > MaxDuration {
			return bad("stall:FROM-TO with durations 0 <= FROM < TO <= 168h, e.g. stall:10m-20m")
		}
		c.From, c.To = sim.Time(from), sim.Time(to)
	}
	return c, nil
}

// String formats d as a Go duration that ParseDuration reads back, without
// the zero units time.Duration.String leaves in ("2h", not "2h0m0s") and
// with "us" for microseconds, so scenario files stay ASCII.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return strings.Replace(s, "µs", "us", 1)
}

// durationSyntax is how an error explains the duration format.
const durationSyntax = "a Go duration such as 10s, 1m30s, 100us or 2h (units: ns, us, ms, s, m, h)"

// parseDurationValue reads a scenario duration. A bare number is refused,
// since "ttl: 10" could mean seconds or nanoseconds; "0" alone is accepted.
func parseDurationValue(v string) (Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" {
		return 0, nil
	}
	if f, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is a bare number; add a unit, e.g. %ss or %sms", v, v, v)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; want %s", v, durationSyntax)
	}
	return Duration(d), nil
}

// durationFromNode reads a duration from a YAML node; the error has no line
// or field name.
func durationFromNode(n *yaml.Node) (Duration, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("a %s is not a duration; want %s", nodeKindName(n), durationSyntax)
	}
	if n.ShortTag() == "!!null" {
		return 0, nil
	}
	return parseDurationValue(n.Value)
}

// UnmarshalYAML reads a Go duration string ("10s", "1m30s", "100us"). A bare
// number is an error that says to add a unit. The error is a *yaml.TypeError
// naming the line, so yaml.v3 reports it with the document's other errors.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := durationFromNode(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = v
	return nil
}

// MarshalYAML writes d as its String form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// nodeKindName describes a node's kind for error messages.
func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.DocumentNode:
		return "document"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}
