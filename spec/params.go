package spec

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// A parameter file holds CPU costs fitted to measurements of a real etcd
// cluster ('leasesim calibrate --fit' writes one), with where and how they
// were measured. A scenario uses one with "params: NAME|FILE" (or the run
// flag --params): its costs replace DefaultCosts field by field, and the
// scenario's own costs section replaces the parameter file's.
//
// Built-in parameter files are the YAML files in spec/params/, compiled
// in: adding a file there is all it takes to add one (its name is the file
// name without .yaml).

// ParamsKind is the kind every parameter file declares.
const ParamsKind = "leasesim/params"

// Params is a fitted cost-parameter file.
type Params struct {
	// Kind: always ParamsKind ("leasesim/params"), so that a scenario or any
	// other YAML file given by mistake is refused at once.
	Kind string `yaml:"kind"`
	// Machine: where the cluster was measured.
	Machine ParamsMachine `yaml:"machine"`
	// Versions: what was measured.
	Versions ParamsVersions `yaml:"versions"`
	// Measured: when (a date, or free text).
	Measured string `yaml:"measured,omitempty"`
	// Notes: anything else a reader needs (how the fit was done, caveats).
	Notes string `yaml:"notes,omitempty"`
	// Fit: the measured runs the fit used, one per load level or placement.
	Fit []ParamsRun `yaml:"fit,omitempty"`
	// Costs: the fitted values. Only the fields set replace the defaults
	// (DefaultCosts); the same ranges apply as to a scenario's costs section.
	Costs CostsSpec `yaml:"costs"`
	// Client: client-side timing measured with the costs.
	Client ParamsClient `yaml:"client,omitempty"`
	// GC: Go's collector in the measured process, for scenarios that turn
	// cluster.gc on. Only the fields set replace DefaultGC's.
	GC ParamsGC `yaml:"gc,omitempty"`
	// Host: the measured machine's own figures, for scenarios that load it
	// with other processes (host.background_threads).
	Host ParamsHost `yaml:"host,omitempty"`
}

// ParamsHost is the measured machine's behaviour under other processes'
// load.
type ParamsHost struct {
	// AllBusySpeed: host.all_busy_speed for scenarios that do not set it (a
	// thread's speed while every core is busy, relative to a quiet machine;
	// 0: not measured, 1).
	AllBusySpeed float64 `yaml:"all_busy_speed,omitempty"`
}

// ParamsGC is the collector of the process a parameter file measured
// (model.GCConfig's fields of the same names).
type ParamsGC struct {
	// ScanRate: live heap one core marks per second, in bytes, as the
	// process's GC CPU per cycle shows it (its heap, not a synthetic one).
	ScanRate float64 `yaml:"scan_rate,omitempty"`
	// MarkCores: the cores a cycle takes from requests while it marks (its
	// GC CPU over its mark's wall time), on the machine's cores; a process
	// on other cores takes the same share of them (MarkCoresOn), and never
	// more than all of them. 0: the
	// runtime's background share, a quarter of the cores.
	MarkCores float64 `yaml:"mark_cores,omitempty"`
	// MarkSpread: the sigma of the lognormal (mean 1) that scales each
	// cycle's mark, as the measured marks of one heap vary.
	MarkSpread float64 `yaml:"mark_spread,omitempty"`
	// BaseHeap: a member's live heap under the measured load, in bytes (a
	// process of several members holds that many).
	BaseHeap int64 `yaml:"base_heap,omitempty"`
	// AllocPerHandshake: bytes one end of a peer TLS handshake allocates
	// (netsim.PeerHandshakeAllocBytes measures etcd's); 0: as a request.
	AllocPerHandshake int64 `yaml:"alloc_per_handshake,omitempty"`
}

// ParamsClient is client-side timing in a parameter file.
type ParamsClient struct {
	// ScanOverrun: clients.scan_overrun for scenarios that do not set it: how
	// late each 500 ms keepalive scan fired after the previous one.
	ScanOverrun Duration `yaml:"scan_overrun,omitempty"`
}

// ParamsMachine is the machine a parameter file was measured on.
type ParamsMachine struct {
	// Description: the machine in a few words, e.g. "2-vCPU KVM guest" or
	// "reference 2-core VM (issue 6), not measured by leasesim".
	Description string `yaml:"description,omitempty"`
	// CPU: the processor model (/proc/cpuinfo's "model name").
	CPU string `yaml:"cpu,omitempty"`
	// Cores: cores available to the whole cluster under test (the members ran
	// on the same machine), e.g. 2.
	Cores float64 `yaml:"cores,omitempty"`
	// Kernel: the kernel release (uname -r).
	Kernel string `yaml:"kernel,omitempty"`
	// Go: the Go version that built etcd (and the load generator), e.g. go1.26.0.
	Go string `yaml:"go,omitempty"`
	// OS and Arch: GOOS and GOARCH, e.g. linux and amd64.
	OS   string `yaml:"os,omitempty"`
	Arch string `yaml:"arch,omitempty"`
}

// ParamsVersions are the software versions a parameter file was measured with.
type ParamsVersions struct {
	// Etcd: the etcd server version, e.g. v3.7.3.
	Etcd string `yaml:"etcd,omitempty"`
	// Client: the clientv3 version of the load generator, e.g. v3.7.3.
	Client string `yaml:"client,omitempty"`
	// PeerTLS: the peer mutual-TLS key type during the runs: rsa, ecdsa or
	// off (cluster.tls's values).
	PeerTLS string `yaml:"peer_tls,omitempty"`
}

// ParamsRun is one measured run a fit used.
type ParamsRun struct {
	// Name identifies the run, e.g. "500-round-robin".
	Name string `yaml:"name"`
	// Clients: clients, one lease each, kept alive with KeepAlive.
	Clients int `yaml:"clients"`
	// TTL: their lease TTL.
	TTL Duration `yaml:"ttl"`
	// Placement: which members the clients used (clients.placement's values:
	// round-robin, leader, followers, member:N).
	Placement string `yaml:"placement,omitempty"`
	// Members: the cluster's size.
	Members int `yaml:"members,omitempty"`
	// Duration: the measurement window.
	Duration Duration `yaml:"duration,omitempty"`
	// DirectPerS: renewals per second from clients connected to the leader.
	DirectPerS float64 `yaml:"direct_renewals_per_s"`
	// ForwardedPerS: renewals per second forwarded by followers to the leader.
	ForwardedPerS float64 `yaml:"forwarded_renewals_per_s"`
	// ServerCPUCores: the CPU all members used together, in cores (mean over
	// the window), idle CPU included.
	ServerCPUCores float64 `yaml:"server_cpu_cores"`
	// HandshakesPerS: peer TLS handshakes per second (rafthttp's prober and
	// new forwarding connections).
	HandshakesPerS float64 `yaml:"handshakes_per_s,omitempty"`
}

//go:embed params/*.yaml
var paramsFS embed.FS

// BuiltinParams lists the built-in parameter files (spec/params/*.yaml,
// without .yaml), sorted.
func BuiltinParams() []string { return yamlNames(paramsFS, "params") }

// LoadParams loads a parameter file: ref is a built-in name (BuiltinParams)
// or a file path (a ref with a path separator or a .yaml/.yml suffix is
// always a path). It decodes strictly, as scenarios are: unknown fields,
// duplicates and badly typed values are errors naming the file, the line, the
// field path and the allowed fields; then Validate checks the values. A ref
// that is neither a built-in nor a readable file is an error listing the
// built-in names.
func LoadParams(ref string) (Params, error) {
	builtin := strings.Join(BuiltinParams(), ", ")
	if strings.TrimSpace(ref) == "" {
		return Params{}, fmt.Errorf("no parameter file named; want a built-in name (%s) or a YAML file", builtin)
	}
	isPath := looksLikePath(ref)
	if !isPath && slices.Contains(BuiltinParams(), ref) {
		file := "params/" + ref + ".yaml"
		data, err := paramsFS.ReadFile(file)
		if err != nil {
			return Params{}, err
		}
		return ParseParams(data, file)
	}
	data, err := readFile(ref, "parameter file")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if isPath {
				return Params{}, fmt.Errorf("parameter file %s does not exist (built-in parameter files: %s)", ref, builtin)
			}
			return Params{}, fmt.Errorf("%q is neither a built-in parameter file (%s) nor a file", ref, builtin)
		}
		return Params{}, err
	}
	return ParseParams(data, ref)
}

// BuiltinParamsSource returns the YAML of a built-in parameter file.
func BuiltinParamsSource(name string) ([]byte, error) {
	if !slices.Contains(BuiltinParams(), name) {
		return nil, fmt.Errorf("%q is not a built-in parameter file; built-in: %s", name, strings.Join(BuiltinParams(), ", "))
	}
	return paramsFS.ReadFile("params/" + name + ".yaml")
}

var paramsDoc = docRules{
	emptyFile: "the file is empty; a parameter file is a YAML mapping with kind: " + ParamsKind + ", machine, versions and costs (as 'leasesim calibrate --fit' writes it)",
	emptyDoc:  "the document is empty; a parameter file is a YAML mapping with kind: " + ParamsKind + ", machine, versions and costs",
	noun:      "a parameter file",
	oneDoc:    "a parameter file",
}

// ParseParams decodes and validates a parameter file's contents; source names
// it in errors (each "source: line N: path: message").
func ParseParams(data []byte, source string) (Params, error) {
	var p Params
	root, err := parseStrict(data, source, &p, paramsDoc, func(root *yaml.Node) error {
		return checkParamsKind(root, source)
	})
	if err != nil {
		return Params{}, err
	}
	if err := p.Validate(); err != nil {
		return Params{}, withLines(err, source, root)
	}
	return p, nil
}

// checkParamsKind refuses, before anything else, a file that does not say
// kind: leasesim/params: it is some other file, and its fields would only be
// a list of unknown ones.
func checkParamsKind(root *yaml.Node, source string) error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k, v := root.Content[i], root.Content[i+1]; k.Value == "kind" {
			if v.Kind == yaml.ScalarNode && v.Value == ParamsKind {
				return nil
			}
			return &FieldError{Source: source, Line: k.Line, Path: "kind", Msg: fmt.Sprintf("%q is not allowed; a parameter file says kind: %s", v.Value, ParamsKind)}
		}
	}
	msg := "missing; a parameter file starts with kind: " + ParamsKind
	if nodeLine(root, "clients") > 0 || nodeLine(root, "duration") > 0 {
		msg += " (this looks like a scenario: give it to --scenario)"
	}
	return &FieldError{Source: source, Line: root.Line, Path: "kind", Msg: msg}
}

// Validate checks a parameter file's values: its kind, the costs (the ranges
// of a scenario's costs section) and the measured runs. The error is
// errors.Join of one *FieldError per problem, naming the field path.
func (p Params) Validate() error {
	v := &validator{}
	if p.Kind != ParamsKind {
		if p.Kind == "" {
			v.add("kind", "missing; a parameter file says kind: %s", ParamsKind)
		} else {
			v.add("kind", "%q is not allowed; a parameter file says kind: %s", p.Kind, ParamsKind)
		}
	}
	if c := p.Machine.Cores; !(c >= 0 && c <= MaxCores) {
		v.add("machine.cores", "%g is out of range; allowed 0 (not known) up to %d", c, MaxCores)
	}
	if t := p.Versions.PeerTLS; t != "" {
		if _, ok := DefaultTLSCosts[t]; !ok {
			v.add("versions.peer_tls", "%q is not allowed; allowed: rsa, ecdsa, off", t)
		}
	}
	v.between("client.scan_overrun", p.Client.ScanOverrun, 0, specMaxScanOverrun)
	p.GC.validate(v)
	if s := p.Host.AllBusySpeed; !(s >= 0 && s <= 1) {
		v.add("host.all_busy_speed", "%g is out of range; allowed 0 (not measured) or more than 0 up to 1", s)
	}
	for i, r := range p.Fit {
		path := fmt.Sprintf("fit[%d]", i)
		if strings.TrimSpace(r.Name) == "" {
			v.add(path+".name", "missing; name each run")
		}
		if r.Clients < 0 || r.Clients > MaxClients {
			v.add(path+".clients", "%d is out of range; allowed 0 to %s", r.Clients, Thousands(MaxClients))
		}
		if r.Members < 0 || r.Members > MaxMembers {
			v.add(path+".members", "%d is out of range; allowed 0 (not known) to %d", r.Members, MaxMembers)
		}
		v.between(path+".ttl", r.TTL, 0, MaxLeaseTTL)
		v.between(path+".duration", r.Duration, 0, Duration(MaxDuration))
		for _, f := range []struct {
			name string
			x    float64
		}{
			{"direct_renewals_per_s", r.DirectPerS}, {"forwarded_renewals_per_s", r.ForwardedPerS},
			{"server_cpu_cores", r.ServerCPUCores}, {"handshakes_per_s", r.HandshakesPerS},
		} {
			if !(f.x >= 0 && f.x < 1e12) {
				v.add(path+"."+f.name, "%g is out of range; allowed 0 or more", f.x)
			}
		}
	}
	v.costs(p.Costs)
	return errors.Join(v.errs...)
}

// validate checks the collector's fields: each 0 (the default) or in range.
func (g ParamsGC) validate(v *validator) {
	if !(g.ScanRate >= 0 && g.ScanRate <= 1e12) {
		v.add("gc.scan_rate", "%g is out of range; allowed 0 (the default) or bytes per core-second up to 1e12", g.ScanRate)
	}
	if !(g.MarkCores >= 0 && g.MarkCores <= MaxCores) {
		v.add("gc.mark_cores", "%g is out of range; allowed 0 (a quarter of the cores) up to %d", g.MarkCores, MaxCores)
	}
	if !(g.MarkSpread >= 0 && g.MarkSpread <= 2) {
		v.add("gc.mark_spread", "%g is out of range; allowed 0 (none) to 2", g.MarkSpread)
	}
	if g.BaseHeap < 0 || g.BaseHeap > 1<<40 {
		v.add("gc.base_heap", "%d is out of range; allowed 0 (the default) to 1 TiB in bytes", g.BaseHeap)
	}
	if g.AllocPerHandshake < 0 || g.AllocPerHandshake > 1<<30 {
		v.add("gc.alloc_per_handshake", "%d is out of range; allowed 0 (as a request) to 1 GiB in bytes", g.AllocPerHandshake)
	}
}

// paramsHeader heads every file Marshal writes.
const paramsHeader = `# leasesim cost parameters (kind: leasesim/params), as 'leasesim calibrate --fit'
# writes them. Use them in a scenario with "params: FILE" or on the command line
# with 'leasesim run --params FILE'. The costs replace leasesim's defaults
# (spec/costs.go) field by field; a field left out keeps its default, and a
# scenario's own costs section overrides these. Durations are CPU time per
# operation; idle_cores is cores per member.
`

// costComments explain each cost in the files Marshal writes.
var costComments = map[string]string{
	"direct_renewal":           "leader CPU per keepalive from a client on the leader",
	"follower_renewal":         "follower CPU per forwarded keepalive (gRPC in and out, HTTP/1.1 client)",
	"leader_forwarded_renewal": "leader CPU per forwarded keepalive (HTTP/1.1 server, lessor.Renew)",
	"tls_server_full":          "leader CPU per full peer TLS handshake",
	"tls_client_full":          "follower CPU per full peer TLS handshake",
	"tls_server_resumed":       "leader CPU per resumed peer TLS handshake",
	"tls_client_resumed":       "follower CPU per resumed peer TLS handshake",
	"tcp_accept":               "leader CPU to accept a peer connection",
	"queued_request_bytes":     "memory per queued request",
	"tls_factor":               "scales the default TLS handshake costs",
	"peer_conn_bytes":          "memory per peer connection on the leader",
	"idle_cores":               "CPU each member burns with no load, in cores",
}

// Marshal writes p as YAML that LoadParams reads back: a header comment, the
// fields in declaration order, two-space indents, and a comment on each cost.
// An empty Kind is written as ParamsKind; a p that Validate refuses is an
// error, so that no file is written that could not be loaded.
func (p Params) Marshal() ([]byte, error) {
	if p.Kind == "" {
		p.Kind = ParamsKind
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := root.Encode(p); err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "costs" {
			continue
		}
		costs := root.Content[i+1]
		for j := 0; j+1 < len(costs.Content); j += 2 {
			costs.Content[j].LineComment = costComments[costs.Content[j].Value]
		}
	}
	var b bytes.Buffer
	b.WriteString(paramsHeader)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
