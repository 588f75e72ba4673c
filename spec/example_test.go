package spec_test

import (
	"fmt"

	"github.com/leasesim/leasesim/spec"
)

// A scenario from YAML: parsed strictly, completed with the defaults and
// validated, then resolved into the plain data the simulator runs. Package
// scenario runs it: scenario.Run(ctx, s, nil).
func Example() {
	s, err := spec.LoadBytes([]byte(`
name: small
duration: 10m
clients:
  count: 500
  ttl: 30s
  version: v3.2.23
  consumer: never
cluster:
  members: 3
  cores: 2
  election_timeout: 500ms
`), "small.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := s.Resolve()
	if err != nil {
		fmt.Println(err)
		return
	}
	c := r.Cluster
	fmt.Println(c.Name, c.Clients, c.TTL, c.ClientRTT, c.ConnectDelay, c.Costs.DirectRenewal)

	// The one validator names the field, the line and what is allowed.
	_, err = spec.LoadBytes([]byte("name: bad\nduration: 10m\nclients:\n  count: 0\n  ttl: 30s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 2\n"), "bad.yaml")
	fmt.Println(err)
	// Output:
	// small 500 30s 1ms 100µs 96µs
	// bad.yaml: line 4: clients.count: 0 is out of range; allowed 1 to 10,000,000
}
