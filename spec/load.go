package spec

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
)

// A scenario file is one YAML document: a mapping with the fields of Spec
// (see spec.go and the built-in scenarios in builtin/). Reading one takes
// three steps, each with its own error style:
//
//   - Parse decodes strictly: unknown fields, duplicate fields, values of the
//     wrong type, bare numbers for durations, several documents and empty
//     files are errors that name the file, the line and the field path
//     ("incident.yaml: line 7: clients.ttl: ...").
//   - ApplyDefaults fills in the fields left out.
//   - Validate checks every value against what leasesim models and names the
//     field path, the bad value and what is allowed.
//
// LoadFile, Builtin and Load do all three, and add the file and line to
// Validate's errors.

// FieldError is one problem with one field of a scenario. Parse and the
// loaders fill in Source and Line; Validate knows only the Path.
type FieldError struct {
	Source string // file name, or "" when not known
	Line   int    // 1-based line in Source, or 0 when not known
	Path   string // field path such as "clients.ttl" or "faults[1].to"; "" for the whole file
	Msg    string // what is wrong and what is allowed
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Server kinds.
const (
	ServerCluster = "cluster" // a modelled etcd cluster (cluster section)
	ServerIdeal   = "ideal"   // one idealised server: fixed RTT, no capacity limit
)

// Defaults that ApplyDefaults fills in. Each is also documented on the field
// in spec.go.
const (
	// DefaultBucket: metrics time-series bucket.
	DefaultBucket = Duration(1e9)
	// DefaultPlacement: clients spread over all members in turn, as a DNS
	// round robin or a client balancer over the member list does.
	DefaultPlacement = "round-robin"
	// DefaultKeysPerLease: the 2018 agents attached one registration key.
	DefaultKeysPerLease = 1
	// DefaultClientRTT: client <-> member round trip in one data centre.
	DefaultClientRTT = Duration(1e6)
	// DefaultPeerRTT: member <-> member round trip in one data centre.
	DefaultPeerRTT = Duration(500e3)
	// DefaultTransport: etcd's peer round tripper for /leases is HTTP/1.1.
	DefaultTransport = "http1"
	DefaultTLSClose  = "reset"
	// ClusterSpec.ProberPhase values.
	ProberRandom   = "random"
	ProberTogether = "together"
	ProberSkewed   = "skewed"
	// DefaultTLS: RSA-2048 mutual TLS between peers, as in the incident.
	DefaultTLS = "rsa"
	// DefaultMaxIdleConnsPerHost: etcd's peer transport keeps up to 1024 idle
	// connections per host (docs/incident-2018.md).
	DefaultMaxIdleConnsPerHost = 1024
	// DefaultElectionTimeout: etcd's --election-timeout default, 1000 ms.
	DefaultElectionTimeout = Duration(1e9)
	// DefaultMaxEvents: a run stops with an error after this many events.
	DefaultMaxEvents = 2_000_000_000
	// DefaultSeed: the root random seed when the file leaves it 0.
	DefaultSeed = 1
)

// Limits Validate enforces besides MaxClients and MaxDuration (resolved.go).
const (
	MaxMembers = 15   // etcd clusters are small; 15 is far beyond any recommended size
	MaxCores   = 1024 // per member
	// MinCores: the least CPU a member may have for requests, after its idle
	// CPU: a request's CPU time is its cost / cores, and the costs go up to
	// 10 s (specMaxCost), so 10 s / 0.001 = 10^4 s per request keeps a
	// member's backlog far inside the simulator's int64 nanoseconds.
	MinCores = 0.001
	// MaxBuckets bounds the metrics time series: duration / bucket.
	MaxBuckets = 1_000_000
	// MaxLeaseTTL is etcd's maximum lease TTL (lease.MaxLeaseTTL, 9,000,000,000 s).
	MaxLeaseTTL = Duration(9_000_000_000 * 1e9)
)

// heartbeat is etcd's default --heartbeat-interval; the minimum lease TTL and
// the election timeout's lower bound are counted in heartbeats.
const specHeartbeat = Duration(100e6)

// Sanity bounds on fields where a larger value is surely a unit mistake.
const (
	specMaxNetDelay     = Duration(60e9) // rtt, peer_rtt, peer_jitter, connect_delay
	specMaxScanOverrun  = Duration(50e6) // clients.scan_overrun: 10 % of a scan
	specMaxCost         = Duration(10e9) // one operation's CPU cost
	specMaxCostBytes    = 1 << 30
	specMaxKeysPerLease = 1_000_000
	specMaxIdleConns    = 1_000_000
	specMaxGOGC         = 10_000 // cluster.gogc: a heap up to 101 times the marked one
	specMaxRevokeRate   = 10_000_000
	// specMaxHeldLeases: 100 million leases, beyond any cluster reported
	// (etcd #9496: "millions"); one lessor entry holds them all.
	specMaxHeldLeases = 100_000_000
	// specMaxRegrants: new leases per agent (clients.regrant.max); each is
	// a client process simulated from the start (spec.Cluster.Processes).
	specMaxRegrants = 100
	// specMaxLeasesPerClient: leases per client process
	// (clients.leases_per_client); each is simulated on its own.
	specMaxLeasesPerClient = 1000
	// specMaxWriteRate: event writes per second per client (event-writer).
	specMaxWriteRate = 1_000_000
	specMaxElection  = Duration(50e9) // etcd refuses election timeouts >= 50 s
)

// ---------------------------------------------------------------------------
// Parsing

// Parse decodes one scenario document strictly: yaml.v3's Decoder with
// KnownFields(true), after a walk over the document that names the line and
// field path of every unknown field, duplicate field and badly typed value
// (errors.Join of *FieldError, each "source: line N: path: message"). It
// neither applies defaults nor validates values.
func Parse(data []byte, source string) (Spec, error) {
	s, _, err := parseSpec(data, source)
	return s, err
}

func parseSpec(data []byte, source string) (Spec, *yaml.Node, error) {
	var s Spec
	root, err := parseStrict(data, source, &s, scenarioDoc, nil)
	if err != nil {
		return Spec{}, nil, err
	}
	return s, root, nil
}

// docRules are what a strict parse says about a file that is not one
// mapping of fields: what kind of file it should be.
type docRules struct {
	emptyFile, emptyDoc string // the messages for an empty file, an empty document
	noun                string // "a scenario": "... is a mapping of fields (...)"
	oneDoc              string // "a scenario file": "... holds exactly one document"
}

var scenarioDoc = docRules{
	emptyFile: "the file is empty; a scenario is a YAML mapping with at least name, duration and clients (see 'leasesim scenarios' for examples)",
	emptyDoc:  "the document is empty; a scenario is a YAML mapping with at least name, duration and clients",
	noun:      "a scenario",
	oneDoc:    "a scenario file",
}

// parseStrict decodes one YAML document into out (a pointer to a struct)
// strictly: a walk over the document names the line and field path of every
// unknown field, duplicate field and badly typed value, then yaml.v3's
// Decoder with KnownFields(true) decodes it. check, if not nil, sees the root
// mapping before the walk; an error from it is returned alone. It returns the
// document's root node, for nodeLine.
func parseStrict(data []byte, source string, out any, r docRules, check func(root *yaml.Node) error) (*yaml.Node, error) {
	t := reflect.TypeOf(out).Elem()
	fail := func(line int, path, format string, args ...any) (*yaml.Node, error) {
		return nil, &FieldError{Source: source, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(0, "", "%s", r.emptyFile)
		}
		return nil, yamlError(source, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return fail(root.Line, "", "%s", r.emptyDoc)
	}
	if root.Kind != yaml.MappingNode {
		return fail(root.Line, "", "%s is a mapping of fields (%s), not a %s", r.noun, strings.Join(yamlFieldNames(t), ", "), nodeKindName(root))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0
		}
		return fail(line, "", "a second YAML document (after \"---\"); %s holds exactly one document", r.oneDoc)
	}
	if check != nil {
		if err := check(root); err != nil {
			return nil, err
		}
	}

	w := nodeWalker{source: source}
	w.walk(root, t, "")
	if len(w.errs) > 0 {
		return nil, errors.Join(w.errs...)
	}

	// The walk has checked everything the decoder checks; decoding again with
	// KnownFields keeps yaml.v3 itself as the last word.
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return nil, yamlError(source, err)
	}
	return root, nil
}

// yamlError restates a yaml.v3 error as "source: line N: message".
func yamlError(source string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs []error
		for _, m := range te.Errors {
			errs = append(errs, lineError(source, m))
		}
		return errors.Join(errs...)
	}
	return lineError(source, strings.TrimPrefix(err.Error(), "yaml: "))
}

// lineError turns "line N: message" into a FieldError.
func lineError(source, m string) error {
	fe := &FieldError{Source: source, Msg: m}
	if rest, ok := strings.CutPrefix(m, "line "); ok {
		if num, msg, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				fe.Line, fe.Msg = n, msg
			}
		}
	}
	return fe
}

var durationType = reflect.TypeFor[Duration]()

// nodeWalker checks a YAML node tree against the Spec types and names the
// line and field path of every problem.
type nodeWalker struct {
	source string
	errs   []error
}

func (w *nodeWalker) add(n *yaml.Node, path, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{Source: w.source, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (w *nodeWalker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // left out: the zero value
	}
	if t == durationType {
		if _, err := durationFromNode(n); err != nil {
			w.add(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		w.walk(n, t.Elem(), path)
	case reflect.Struct:
		w.mapping(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.add(n, path, "a %s is not allowed here; want a list", nodeKindName(n))
			return
		}
		for i, e := range n.Content {
			w.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		w.scalar(n, t, path)
	}
}

func (w *nodeWalker) mapping(n *yaml.Node, t reflect.Type, path string) {
	names := yamlFieldNames(t)
	if n.Kind != yaml.MappingNode {
		w.add(n, path, "a %s is not allowed here; want a mapping of fields (%s)", nodeKindName(n), strings.Join(names, ", "))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			w.add(k, path, "a %s is not a field name", nodeKindName(k))
			continue
		}
		name := k.Value
		fpath := joinPath(path, name)
		if name == "<<" {
			w.add(k, path, "YAML merge keys (<<) are not supported; write the fields out")
			continue
		}
		if first, dup := seen[name]; dup {
			w.add(k, fpath, "set twice (first at line %d)", first)
			continue
		}
		seen[name] = k.Line
		f, ok := yamlField(t, name)
		if !ok {
			section := "allowed top-level fields"
			if path != "" {
				section = "allowed fields of " + path
			}
			w.add(k, fpath, "unknown field%s; %s: %s", suggest(name, names), section, strings.Join(names, ", "))
			continue
		}
		w.walk(v, f.Type, fpath)
	}
}

func (w *nodeWalker) scalar(n *yaml.Node, t reflect.Type, path string) {
	want := map[reflect.Kind]string{
		reflect.String: "a string", reflect.Bool: "true or false", reflect.Float64: "a number",
	}[t.Kind()]
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		want = "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a whole number >= 0"
	}
	if n.Kind != yaml.ScalarNode {
		w.add(n, path, "a %s is not allowed here; want %s", nodeKindName(n), want)
		return
	}
	if t.Kind() == reflect.String {
		return // any scalar reads as its text
	}
	if strings.HasPrefix(want, "a whole number") {
		w.integer(n, t, path, want)
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		w.add(n, path, "%q is not %s", n.Value, want)
	}
}

// integer checks a whole number for an integer field: yaml.v3 truncates a
// float decoded into an integer and wraps one beyond the type's range
// ("seed: 18446744073709551616" became 9223372036854775808), so a fraction
// and a value outside the type are refused here, with the field's range.
func (w *nodeWalker) integer(n *yaml.Node, t reflect.Type, path, want string) {
	allowed := intRange(path, t)
	if n.ShortTag() == "!!float" {
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		switch {
		case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
			w.add(n, path, "%s is not %s; allowed %s", n.Value, want, allowed)
			return
		case f != math.Trunc(f):
			w.add(n, path, "%s is not %s; allowed %s", n.Value, want, allowed)
			return
		}
		// 2^63 and 2^64 are exact in float64; a whole float below them fits.
		if (t.Kind() == reflect.Uint64 && !(f >= 0 && f < 1<<64)) || (t.Kind() != reflect.Uint64 && !(f >= -(1<<63) && f < 1<<63)) {
			w.add(n, path, "%s is out of range; allowed %s", n.Value, allowed)
			return
		}
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		negUint := t.Kind() == reflect.Uint64 && strings.HasPrefix(strings.TrimSpace(n.Value), "-")
		if n.ShortTag() == "!!int" && !negUint { // a whole number the field's type cannot hold
			w.add(n, path, "%s is out of range; allowed %s", n.Value, allowed)
			return
		}
		w.add(n, path, "%q is not %s; allowed %s", n.Value, want, allowed)
	}
}

// intRanges are the allowed ranges of the integer fields, as the validator
// checks them, for the parse errors of values no integer can hold.
var intRanges = map[string]string{
	"seed":                            "0 (the default, 1) to 18446744073709551615",
	"clients.count":                   "1 to " + Thousands(MaxClients),
	"clients.keys_per_lease":          "1 to " + Thousands(specMaxKeysPerLease),
	"clients.leases_per_client":       fmt.Sprintf("1 (the default, also written 0) up to %d", specMaxLeasesPerClient),
	"cluster.members":                 fmt.Sprintf("1 to %d", MaxMembers),
	"cluster.leader":                  "a member number, 0 to members-1",
	"cluster.max_idle_conns_per_host": "0 (the default, 1024) to " + Thousands(specMaxIdleConns),
	"cluster.leader_queue_limit":      "0 (unbounded) or a positive request count",
	"cluster.held_leases":             "0 to " + Thousands(specMaxHeldLeases),
	"clients.lease_max_objects":       "0 (unbounded) to " + Thousands(specMaxKeysPerLease),
	"costs.queued_request_bytes":      fmt.Sprintf("0 (the default) to %d bytes", specMaxCostBytes),
	"costs.peer_conn_bytes":           fmt.Sprintf("0 (the default) to %d bytes", specMaxCostBytes),
	"faults.to":                       "a member number, 0 to members-1",
	"faults.member":                   "a member number, 0 to members-1",
	"limits.max_events":               "0 (no limit) to 18446744073709551615",
	"cohort":                          "0 (chosen from the client count) to " + Thousands(MaxCohort),
	"fit.clients":                     "0 to " + Thousands(MaxClients),
	"fit.members":                     fmt.Sprintf("0 (not known) to %d", MaxMembers),
}

// intRange is the allowed range of the integer field at path ("faults[2].to"
// looks up "faults.to"), else its Go type's.
func intRange(path string, t reflect.Type) string {
	key := path
	for {
		i := strings.IndexByte(key, '[')
		if i < 0 {
			break
		}
		j := strings.IndexByte(key[i:], ']')
		if j < 0 {
			break
		}
		key = key[:i] + key[i+j+1:]
	}
	if r, ok := intRanges[key]; ok {
		return r
	}
	if t.Kind() == reflect.Uint64 {
		return "0 to 18446744073709551615"
	}
	return "-9223372036854775808 to 9223372036854775807"
}

// yamlFieldNames lists t's YAML field names in declaration order.
func yamlFieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n := yamlName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch tag {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name) // yaml.v3's default
	}
	return tag
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// suggest returns ` (did you mean "x"?)` for the allowed name closest to a
// misspelt one, or "".
func suggest(name string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(name), a); d < bestD {
			best, bestD = a, d
		}
	}
	if best == "" || bestD*3 > len(best) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// nodeLine returns the line of the field at path ("clients.ttl",
// "faults[1].to") in a document, or 0 if the document does not set it.
func nodeLine(root *yaml.Node, path string) int {
	if root == nil || path == "" {
		return 0
	}
	n, line := root, 0
	for _, seg := range strings.Split(path, ".") {
		name, idx, _ := strings.Cut(seg, "[")
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if n.Kind != yaml.MappingNode {
			return 0
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				next, line = n.Content[i+1], n.Content[i].Line
			}
		}
		if next == nil {
			return 0
		}
		n = next
		for idx != "" {
			num, rest, _ := strings.Cut(idx, "]")
			i, err := strconv.Atoi(num)
			if n.Kind == yaml.AliasNode && n.Alias != nil {
				n = n.Alias
			}
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return 0
			}
			n = n.Content[i]
			line = n.Line
			idx = strings.TrimPrefix(rest, "[")
		}
	}
	return line
}

// ---------------------------------------------------------------------------
// Loading

//go:embed builtin/*.yaml
var builtinFS embed.FS

// BuiltinNames lists the built-in scenarios, sorted.
func BuiltinNames() []string { return yamlNames(builtinFS, "builtin") }

// yamlNames lists the .yaml files of an embedded directory without their
// suffix, sorted.
func yamlNames(fsys embed.FS, dir string) []string {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		panic(err) // embedded at build time
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Builtin loads the built-in scenario name (parsed, defaults applied,
// validated). An unknown name is an error that lists the built-in names.
func Builtin(name string) (Spec, error) {
	if !slices.Contains(BuiltinNames(), name) {
		return Spec{}, fmt.Errorf("%q is not a built-in scenario; built-in: %s", name, strings.Join(BuiltinNames(), ", "))
	}
	file := "builtin/" + name + ".yaml"
	data, err := builtinFS.ReadFile(file)
	if err != nil {
		return Spec{}, err
	}
	s, err := load(data, file, "")
	if err != nil {
		return Spec{}, err
	}
	if s.Name != name {
		return Spec{}, &FieldError{Source: file, Path: "name", Msg: fmt.Sprintf("%q differs from the file name %q", s.Name, name)}
	}
	return s, nil
}

// Builtins returns every built-in scenario, sorted by name, loaded as by
// Builtin. The files are compiled in and tested, so a bad one panics.
func Builtins() []Spec {
	var out []Spec
	for _, n := range BuiltinNames() {
		s, err := Builtin(n)
		if err != nil {
			panic(fmt.Sprintf("built-in scenario %s: %v", n, err))
		}
		out = append(out, s)
	}
	return out
}

// LoadFile reads, parses, completes (ApplyDefaults) and validates a scenario
// file. A file without a name is named after the file ("x.yaml" -> "x"); a
// relative params path in it is read relative to the file's directory (Params
// keeps it as written). Errors name the file and, where the file sets the
// field, its line. A file larger than MaxFileSize is refused unread.
func LoadFile(path string) (Spec, error) {
	data, err := readFile(path, "scenario file")
	if err != nil {
		return Spec{}, err
	}
	return load(data, path, filepath.Dir(path))
}

// Load loads a built-in scenario by name or, failing that, a scenario file.
// An argument with a path separator or a .yaml/.yml suffix is always a file.
// When it is neither a built-in name nor a readable file, the one error says
// both.
func Load(nameOrPath string) (Spec, error) {
	isPath := looksLikePath(nameOrPath)
	if !isPath && slices.Contains(BuiltinNames(), nameOrPath) {
		return Builtin(nameOrPath)
	}
	data, err := readFile(nameOrPath, "scenario file")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if isPath {
				return Spec{}, fmt.Errorf("scenario file %s does not exist (built-in scenarios: %s)", nameOrPath, strings.Join(BuiltinNames(), ", "))
			}
			return Spec{}, fmt.Errorf("%q is neither a built-in scenario (%s) nor a scenario file", nameOrPath, strings.Join(BuiltinNames(), ", "))
		}
		return Spec{}, err
	}
	return load(data, nameOrPath, filepath.Dir(nameOrPath))
}

// MaxFileSize bounds a scenario or parameter file: the largest built-in is a
// few KiB, and reading stops here, so that "--scenario /dev/zero" fails at
// once instead of filling the memory.
const MaxFileSize = 1 << 20

// readFile reads at most MaxFileSize bytes of a file; what ("scenario file",
// "parameter file") names it in errors. A file not found is an error that
// errors.Is fs.ErrNotExist.
func readFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s %s is larger than 1 MiB (%d bytes), the limit for a %s", what, path, MaxFileSize, what)
	}
	return data, nil
}

// LoadBytes parses, completes and validates a scenario document read by the
// caller (from standard input, a network, a fuzzer); source names it in
// errors. A relative params path is taken relative to the working directory.
// Data larger than MaxFileSize is refused, as a file would be.
func LoadBytes(data []byte, source string) (Spec, error) {
	if len(data) > MaxFileSize {
		return Spec{}, fmt.Errorf("%s is larger than 1 MiB (%d bytes), the limit for a scenario", source, MaxFileSize)
	}
	return load(data, source, "")
}

// looksLikePath: an argument with a path separator or a .yaml/.yml suffix is
// always a file, never a built-in name.
func looksLikePath(ref string) bool {
	return strings.ContainsRune(ref, '/') || strings.ContainsRune(ref, filepath.Separator) ||
		strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml")
}

// load parses, names, completes and validates; Validate's errors get the
// source and the line of their field. dir, if not "", is the directory of
// the scenario file: a relative params path (one that looks like a path) is
// taken relative to it.
func load(data []byte, source, dir string) (Spec, error) {
	s, root, err := parseSpec(data, source)
	if err != nil {
		return Spec{}, err
	}
	if s.Name == "" {
		base := filepath.Base(source)
		s.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if dir != "" && looksLikePath(s.Params) && !filepath.IsAbs(s.Params) {
		s.paramsFile = filepath.Join(dir, s.Params)
	}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		return Spec{}, withLines(err, source, root)
	}
	return s, nil
}

// withLines gives each *FieldError of a Validate error the source and the
// line of its field in root.
func withLines(err error, source string, root *yaml.Node) error {
	var errs []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			c := *fe
			c.Source, c.Line = source, nodeLine(root, fe.Path)
			e = &c
		} else {
			e = fmt.Errorf("%s: %w", source, e)
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ---------------------------------------------------------------------------
// Defaults

// ApplyDefaults fills in every field the scenario left at its zero value:
//
//	seed                            1
//	bucket                          1s (metrics time-series bucket)
//	server                          cluster
//	clients.connect_delay           100us (DefaultConnectDelay: a gRPC stream open on a live connection)
//	clients.placement               round-robin
//	clients.keys_per_lease          1
//	clients.rtt                     1ms
//	clients.scan_overrun            0 (the exact 500 ms scan grid; a params file may supply it)
//	clients.kind                    "" (keepalive; left empty so that outputs name it only when set)
//	limits.max_events               2,000,000,000
//
// and, for server: cluster only (an ideal server has no cluster section):
//
//	cluster.peer_rtt                500us
//	cluster.transport               http1 (etcd's peer round tripper)
//	cluster.tls                     rsa (RSA-2048 mutual TLS)
//	cluster.tls_close               reset (measured: closed TLS peer connections leave no TIME-WAIT)
//	cluster.max_idle_conns_per_host 1024 (etcd's peer transport)
//	cluster.election_timeout        1s (etcd's default)
//	cluster.prober                  true (rafthttp's prober is always on in etcd)
//	cluster.prober_phase            "" (random: a seeded phase per member; left empty, as clients.kind)
//	cluster.etcd_version            "" (model.DefaultEtcdVersion, 3.7.3; left empty, as clients.kind)
//
// Cost fields stay zero (idle_cores nil): a zero cost means "the params
// file's value, else the default for this TLS mode" (DefaultCosts), resolved
// when the scenario is built. connect_delay, rtt, peer_rtt and max_events
// are pointers: left out (nil) they get the default, and an explicit 0 stays
// 0 (max_events: 0 is no limit). ApplyDefaults is idempotent, and it never
// writes through a pointer it did not allocate (copies of a Spec share them).
func (s *Spec) ApplyDefaults() {
	if s.Seed == 0 {
		s.Seed = DefaultSeed
	}
	if s.Bucket == 0 {
		s.Bucket = DefaultBucket
	}
	if s.Server == "" {
		s.Server = ServerCluster
	}
	c := &s.Clients
	if c.ConnectDelay == nil {
		c.ConnectDelay = new(Duration(DefaultConnectDelay))
	}
	if c.Placement == "" {
		c.Placement = DefaultPlacement
	}
	if c.KeysPerLease == 0 {
		c.KeysPerLease = DefaultKeysPerLease
	}
	if c.RTT == nil {
		c.RTT = new(DefaultClientRTT)
	}
	if s.Limits.MaxEvents == nil {
		s.Limits.MaxEvents = new(uint64(DefaultMaxEvents))
	}
	if s.Server != ServerCluster {
		return
	}
	k := &s.Cluster
	if k.PeerRTT == nil {
		k.PeerRTT = new(DefaultPeerRTT)
	}
	if k.Transport == "" {
		k.Transport = DefaultTransport
	}
	if k.TLS == "" {
		k.TLS = DefaultTLS
	}
	if k.TLSClose == "" {
		k.TLSClose = DefaultTLSClose
	}
	if k.MaxIdleConnsPerHost == 0 {
		k.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if k.ElectionTimeout == 0 {
		k.ElectionTimeout = DefaultElectionTimeout
	}
	if k.Prober == nil {
		on := true
		k.Prober = &on
	}
}

// ---------------------------------------------------------------------------
// Validation

// Validate checks every field of s, as completed by ApplyDefaults (it
// validates a completed copy, so it may be called before or after). The error
// is errors.Join of one *FieldError per problem, each naming the field path,
// the bad value and what is allowed, e.g.
//
//	clients.ttl: 1s is below etcd's minimum lease TTL of 2s (default election settings)
//
// A params file is loaded to check it (its errors come under "params") and
// the idle CPU it leaves against cluster.cores.
//
// It is leasesim's only validator: the loaders, Resolve (so scenario.Run),
// flag-built scenarios, what-ifs and sweep points all go through it, and the
// simulator does not check again. Every numeric field is held to the range
// on which the model's arithmetic is defined (TestEveryNumericFieldAtItsExtremes
// in package scenario walks them all).
func (s Spec) Validate() error {
	_, err := s.validate()
	return err
}

// validate is Validate that also returns the costs of the params file (zero
// when there is none or it does not load).
func (s Spec) validate() (Params, error) {
	clusterEmpty := s.Cluster == (ClusterSpec{})
	s.ApplyDefaults() // on a copy
	v := &validator{}
	var paramsCosts CostsSpec
	var params Params

	if strings.ContainsAny(s.Name, "\n\r\t") {
		v.add("name", "%q must be one line", s.Name)
	}
	dur := s.Duration
	durOK := dur > 0 && dur.D() <= MaxDuration
	if !durOK {
		v.add("duration", "%v is out of range; allowed > 0 up to %v", dur, Duration(MaxDuration))
	}
	switch {
	case s.Bucket <= 0:
		v.add("bucket", "%v is out of range; allowed > 0", s.Bucket)
	case durOK && s.Bucket > dur:
		v.add("bucket", "%v is longer than the duration (%v); allowed > 0 up to the duration", s.Bucket, dur)
	case durOK && (dur+s.Bucket-1)/s.Bucket > MaxBuckets:
		v.add("bucket", "%v makes %d buckets over %v; allowed at most %d (use a longer bucket)", s.Bucket, (dur+s.Bucket-1)/s.Bucket, dur, MaxBuckets)
	}
	cluster := s.Server == ServerCluster
	switch s.Server {
	case ServerCluster:
	case ServerIdeal:
		if !clusterEmpty {
			v.add("cluster", "is set, but server: ideal has no cluster; remove the cluster section or use server: cluster")
		}
		if len(s.Faults) > 0 {
			v.add("faults", "server: ideal has no leader to fault; remove the faults or use server: cluster")
		}
		if s.Costs != (CostsSpec{}) {
			v.add("costs", "server: ideal has no CPU costs; remove the costs section or use server: cluster")
		}
		if s.Params != "" {
			v.add("params", "server: ideal has no CPU costs; remove params or use server: cluster")
		}
		if s.Host != (HostSpec{}) {
			v.add("host", "is set, but server: ideal has no machine; remove the host section or use server: cluster")
		}
	default:
		v.add("server", "%q is not allowed; allowed: %s, %s", s.Server, ServerCluster, ServerIdeal)
	}

	members := s.Cluster.Members
	membersOK := cluster && members >= 1 && members <= MaxMembers
	if cluster {
		v.cluster(s.Cluster)
	}
	v.clients(s.Clients, dur, durOK, cluster, membersOK, members, s.Cluster.ElectionTimeout)
	v.fidelity(s, cluster)
	if cluster {
		costsOK := v.costs(s.Costs)
		if s.Params != "" {
			p, err := LoadParams(s.paramsRef())
			if err != nil {
				costsOK = false
				for _, e := range unjoin(err) {
					v.add("params", "%v", e)
				}
			} else {
				params, paramsCosts = p, p.Costs
			}
		}
		if k := s.Cluster.Cores; costsOK && k >= MinCores && k <= MaxCores {
			v.idle(s.Cluster, s.Params, paramsCosts, s.Costs)
			v.host(s.Host, s.Cluster, MergeCosts(paramsCosts, s.Costs).Apply(DefaultCosts(DefaultTLS)).IdleCores, dur)
		} else if _, err := ParseBackground(s.Host.BackgroundCores); err != nil {
			v.add("host.background_cores", "%v", err)
		}
		v.faults(s.Faults, s.Cluster.Leader, dur, durOK, membersOK, members, s.Cluster.Raft)
	}
	return params, errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// between checks lo <= d <= hi.
func (v *validator) between(path string, d, lo, hi Duration) {
	if d < lo || d > hi {
		v.add(path, "%v is out of range; allowed %v to %v", d, lo, hi)
	}
}

// eventWriter checks the fields of clients.kind event-writer, which no
// other kind takes.
func (v *validator) eventWriter(c ClientsSpec) {
	if c.Kind != ClientEventWriter {
		set := []bool{c.WriteRate != 0, c.LeaseMaxObjects != 0, c.WriteOp != ""}
		for i, path := range []string{"clients.write_rate", "clients.lease_max_objects", "clients.write_op"} {
			if set[i] {
				v.add(path, "is set, but clients.kind is %q; allowed only with clients.kind: %s", c.Kind, ClientEventWriter)
			}
		}
		return
	}
	if !(c.WriteRate > 0 && c.WriteRate <= specMaxWriteRate) {
		v.add("clients.write_rate", "%v is out of range; allowed above 0 up to %s events per second per client", c.WriteRate, Thousands(specMaxWriteRate))
	}
	if c.LeaseMaxObjects < 0 || c.LeaseMaxObjects > specMaxKeysPerLease {
		v.add("clients.lease_max_objects", "%d is out of range; allowed 0 (unbounded) to %s keys per lease", c.LeaseMaxObjects, Thousands(specMaxKeysPerLease))
	}
	switch c.WriteOp {
	case "", WriteTxn, WritePut:
	default:
		v.add("clients.write_op", "%q is not allowed; allowed: %s (kube-apiserver's, the default), %s", c.WriteOp, WriteTxn, WritePut)
	}
}

// workloads checks clients.restart and clients.period (keepalive-once).
func (v *validator) workloads(c ClientsSpec, dur Duration, durOK, cluster bool) {
	upTo := "up to the duration"
	if durOK {
		upTo = fmt.Sprintf("up to the duration (%v)", dur)
	}
	switch {
	case c.Period != 0 && c.Kind != ClientKeepAliveOnce:
		v.add("clients.period", "is set, but clients.kind is %q; allowed only with clients.kind: %s", c.Kind, ClientKeepAliveOnce)
	case c.Period < 0 || (durOK && c.Period > dur):
		v.add("clients.period", "%v is out of range; allowed 0 (TTL/3) or above 0 %s", c.Period, upTo)
	}
	if g := c.Regrant; g != (RegrantSpec{}) {
		if g.Max != 0 && (!cluster || (c.Kind != "" && c.Kind != ClientKeepAlive)) {
			v.add("clients.regrant", "is set, but re-granting agents need server: cluster and clients.kind %s (clients.kind is %q)", ClientKeepAlive, c.Kind)
		}
		if g.Max < 0 || g.Max > specMaxRegrants {
			v.add("clients.regrant.max", "%d is out of range; allowed 0 (never) up to %d new leases per agent", g.Max, specMaxRegrants)
		}
		if g.Delay < 0 || (durOK && g.Delay > dur) {
			v.add("clients.regrant.delay", "%v is out of range; allowed 0 %s", g.Delay, upTo)
		}
		if g.Max > 0 && c.Restart.Fraction != 0 {
			v.add("clients.regrant.max", "%d cannot be combined with clients.restart (fraction %v); allowed with it: 0", g.Max, c.Restart.Fraction)
		}
		if g.Max > 0 && c.Count*(1+g.Max) > MaxClients {
			v.add("clients.regrant.max", "%d new leases for each of %d clients is %s lease entries; allowed up to %s in all", g.Max, c.Count, Thousands(c.Count*(1+g.Max)), Thousands(MaxClients))
		}
	}
	v.leasesPerClient(c, cluster)
	// Fraction 0 is no wave (--restart-fraction 0 turns a scenario's off);
	// the other fields are still held to their ranges.
	r := c.Restart
	if r == (RestartSpec{}) {
		return
	}
	if r.Fraction != 0 && (!cluster || (c.Kind != "" && c.Kind != ClientKeepAlive)) {
		v.add("clients.restart", "is set, but restarts need server: cluster and clients.kind %s (clients.kind is %q)", ClientKeepAlive, c.Kind)
	}
	if !(r.Fraction >= 0 && r.Fraction <= 1) {
		v.add("clients.restart.fraction", "%v is out of range; allowed 0 (no restarts) up to 1 (the share of the clients that restart)", r.Fraction)
	}
	switch {
	case r.At < 0 || (durOK && r.At >= dur):
		v.add("clients.restart.at", "%v is not within the run; allowed from clients.start_spread up to below the duration", r.At)
	case r.At < c.StartSpread:
		v.add("clients.restart.at", "%v is before every client has started (clients.start_spread %v); allowed from %v up to below the duration", r.At, c.StartSpread, c.StartSpread)
	}
	if r.Over < 0 || (durOK && r.At >= 0 && r.Over > dur-r.At) {
		v.add("clients.restart.over", "%v is out of range; allowed 0 (all at once) up to the time left after clients.restart.at", r.Over)
	} else if r.Over > 0 && r.Over.D() < StartResolution {
		v.add("clients.restart.over", "%v is below the start resolution; allowed 0 or %v %s", r.Over, StartResolution, upTo)
	}
	if r.Down < 0 || (durOK && r.Down > dur) {
		v.add("clients.restart.down", "%v is out of range; allowed 0 %s", r.Down, upTo)
	}
}

func (v *validator) clients(c ClientsSpec, dur Duration, durOK, cluster, membersOK bool, members int, election Duration) {
	if _, _, err := ParseRenewAt(c.RenewAt); err != nil {
		v.add("clients.renew_at", "%v", err)
	}
	switch c.Kind {
	case "", ClientKeepAlive:
	case ClientGrantOnly, ClientEventWriter, ClientKeepAliveOnce:
		if !cluster {
			v.add("clients.kind", "%q needs server: cluster; an ideal server takes only %s", c.Kind, ClientKeepAlive)
		}
	default:
		v.add("clients.kind", "%q is not allowed; allowed: %s, %s, %s, %s", c.Kind, ClientKeepAlive, ClientGrantOnly, ClientEventWriter, ClientKeepAliveOnce)
	}
	v.eventWriter(c)
	v.workloads(c, dur, durOK, cluster)
	if c.Count < 1 || c.Count > MaxClients {
		v.add("clients.count", "%d is out of range; allowed 1 to %s", c.Count, Thousands(MaxClients))
	}

	if election <= 0 {
		election = DefaultElectionTimeout
	}
	minTTL := minLeaseTTL(election)
	settings := "default election settings"
	if election != DefaultElectionTimeout {
		settings = fmt.Sprintf("election timeout %v", election)
	}
	switch {
	case c.TTL < 0:
		v.add("clients.ttl", "%v is negative; allowed whole seconds from %v (etcd's minimum lease TTL) up to %v", c.TTL, minTTL, MaxLeaseTTL)
	case c.TTL == 0:
		v.add("clients.ttl", "0s (or missing) is not allowed; allowed whole seconds from %v (etcd's minimum lease TTL) up to %v", minTTL, MaxLeaseTTL)
	case c.TTL%Duration(1e9) != 0:
		v.add("clients.ttl", "%v is not a whole number of seconds; allowed whole seconds from %v (etcd's minimum lease TTL) up to %v", c.TTL, minTTL, MaxLeaseTTL)
	case c.TTL < minTTL:
		v.add("clients.ttl", "%v is below etcd's minimum lease TTL of %v (%s)", c.TTL, minTTL, settings)
	case c.TTL > MaxLeaseTTL:
		v.add("clients.ttl", "%v is above etcd's maximum lease TTL of %v", c.TTL, MaxLeaseTTL)
	}

	if strings.TrimSpace(c.Version) == "" {
		v.add("clients.version", "missing; want a clientv3 release such as v3.2.23 (pre-fix) or v3.7.3 (see 'leasesim versions')")
	} else if _, err := clientmodel.ParseVersion(c.Version); err != nil {
		v.add("clients.version", "%v", err)
	}
	if c.Consumer == "" {
		v.add("clients.consumer", "missing; allowed: %s", ConsumerForms)
	} else if _, err := ParseConsumer(c.Consumer); err != nil {
		v.add("clients.consumer", "%v", err)
	}

	switch {
	case c.StartSpread < 0:
		v.add("clients.start_spread", "%v is negative; allowed 0 up to the duration", c.StartSpread)
	case durOK && c.StartSpread > dur:
		v.add("clients.start_spread", "%v is longer than the duration (%v); allowed 0 up to the duration", c.StartSpread, dur)
	case c.StartSpread > 0 && c.StartSpread.D() < StartResolution:
		v.add("clients.start_spread", "%v is below the start resolution; allowed 0 or %v up to the duration", c.StartSpread, StartResolution)
	}
	v.between("clients.connect_delay", deref(c.ConnectDelay), 0, specMaxNetDelay)
	v.between("clients.scan_overrun", c.ScanOverrun, 0, specMaxScanOverrun)
	v.between("clients.rtt", deref(c.RTT), 0, specMaxNetDelay)
	if c.KeysPerLease < 1 || c.KeysPerLease > specMaxKeysPerLease {
		v.add("clients.keys_per_lease", "%d is out of range; allowed 1 to %s", c.KeysPerLease, Thousands(specMaxKeysPerLease))
	}

	p := c.Placement
	if !cluster {
		if p != DefaultPlacement {
			v.add("clients.placement", "%q needs server: cluster; an ideal server takes only %s", p, DefaultPlacement)
		}
		return
	}
	memberRange := fmt.Sprintf("members 0-%d", members-1)
	if members == 1 {
		memberRange = "member 0"
	}
	switch {
	case p == DefaultPlacement || p == "leader":
	case p == "followers":
		if membersOK && members < 2 {
			v.add("clients.placement", "%q needs at least 2 members; the cluster has 1", p)
		}
	case strings.HasPrefix(p, "member:"):
		n, err := strconv.Atoi(strings.TrimPrefix(p, "member:"))
		if err != nil {
			v.add("clients.placement", "%q is not allowed; member:N takes a member number, e.g. member:0", p)
		} else if membersOK && (n < 0 || n >= members) {
			v.add("clients.placement", "%q names a member that does not exist; allowed %s", p, memberRange)
		}
	default:
		v.add("clients.placement", "%q is not allowed; allowed: round-robin, leader, followers, member:N", p)
	}
}

func (v *validator) cluster(k ClusterSpec) {
	membersOK := k.Members >= 1 && k.Members <= MaxMembers
	if !membersOK {
		v.add("cluster.members", "%d is out of range; allowed 1 to %d", k.Members, MaxMembers)
	}
	if !(k.Cores >= MinCores && k.Cores <= MaxCores) {
		v.add("cluster.cores", "%v is out of range; allowed %v up to %d cores per member", k.Cores, MinCores, MaxCores)
	}
	if membersOK && (k.Leader < 0 || k.Leader >= k.Members) {
		v.add("cluster.leader", "%d is not a member; allowed 0 to %d", k.Leader, k.Members-1)
	} else if k.Leader < 0 {
		v.add("cluster.leader", "%d is negative; members are numbered from 0", k.Leader)
	}
	v.between("cluster.peer_rtt", deref(k.PeerRTT), 0, specMaxNetDelay)
	v.between("cluster.peer_jitter", k.PeerJitter, 0, specMaxNetDelay)
	if k.Transport != "http1" && k.Transport != "http2" {
		v.add("cluster.transport", "%q is not allowed; allowed: http1, http2", k.Transport)
	}
	if _, ok := DefaultTLSCosts[k.TLS]; !ok {
		v.add("cluster.tls", "%q is not allowed; allowed: rsa, ecdsa, off", k.TLS)
	} else if k.TLS == "off" && k.TLSResumption {
		v.add("cluster.tls_resumption", "true needs TLS; cluster.tls is off")
	}
	if k.TLSClose != "reset" && k.TLSClose != "time-wait" {
		v.add("cluster.tls_close", "%q is not allowed; allowed: reset, time-wait", k.TLSClose)
	}
	if k.ProberPhase != "" && k.ProberPhase != ProberRandom && k.ProberPhase != ProberTogether && k.ProberPhase != ProberSkewed {
		v.add("cluster.prober_phase", "%q is not allowed; allowed: random (the default), together, skewed", k.ProberPhase)
	}
	if _, ok := PlatformStallTables[k.PlatformStalls]; !ok && k.PlatformStalls != "" && k.PlatformStalls != PlatformStallsNone {
		v.add("cluster.platform_stalls", "%q is not allowed; allowed: none (the default), %s, %s", k.PlatformStalls, PlatformStallsQuiet, PlatformStallsBusy)
	} else if ok && !k.SharedCPU {
		v.add("cluster.platform_stalls", "%s needs cluster.shared_cpu: true; allowed without it: none (the stalls were measured on a cluster in one process, and stop it)", k.PlatformStalls)
	}
	if k.MaxIdleConnsPerHost < 0 || k.MaxIdleConnsPerHost > specMaxIdleConns {
		v.add("cluster.max_idle_conns_per_host", "%d is out of range; allowed 1 to %s", k.MaxIdleConnsPerHost, Thousands(specMaxIdleConns))
	}
	if k.GOGC < 0 || k.GOGC > specMaxGOGC {
		v.add("cluster.gogc", "%d is out of range; allowed 0 (the runtime's default, 100) or 1 to %s (a percentage; the collector off is not modelled: the heap would grow without bound)", k.GOGC, Thousands(specMaxGOGC))
	} else if k.GOGC > 0 && !k.GC {
		v.add("cluster.gogc", "%d needs cluster.gc: true (without the collector modelled it changes nothing); allowed: 0 without cluster.gc", k.GOGC)
	}
	if !(k.FollowerAnswerShare >= 0 && k.FollowerAnswerShare <= 1) {
		v.add("cluster.follower_answer_share", "%v is out of range; allowed 0 (the default: the follower's work all before the forward) to 1", k.FollowerAnswerShare)
	}
	if k.LeaderQueueLimit < 0 {
		v.add("cluster.leader_queue_limit", "%d is negative; allowed 0 (unbounded, as etcd) or a positive request count", k.LeaderQueueLimit)
	} else if k.LeaderQueueLimit > 0 && k.SharedCPU {
		v.add("cluster.leader_queue_limit", "%d cannot be combined with cluster.shared_cpu: the members share one CPU queue; allowed 0 (unbounded) with shared_cpu", k.LeaderQueueLimit)
	}
	if ev, err := k.etcd(); err != nil {
		v.add("cluster.etcd_version", "%v", err)
	} else {
		if k.FastLeaseKeepAlive != nil && !ev.HasFastLeaseKeepAlive() {
			v.add("cluster.fast_lease_keepalive", "is set, but etcd %s has no FastLeaseKeepAlive feature gate (3.7.0 and later); allowed: left out", ev)
		}
		if k.LeaseCheckpoint && !ev.Checkpoints() {
			v.add("cluster.lease_checkpoint", "true needs etcd 3.4.0 or later (PR #9924); cluster.etcd_version is %s", ev)
		}
	}
	if _, err := k.raftWait(); err != nil {
		v.add("cluster.raft_wait", "%v", err)
	} else if k.RaftWait != "" && !k.Raft {
		v.add("cluster.raft_wait", "is set, but cluster.raft is off; allowed: left out, or with cluster.raft: true")
	}
	if k.LeaseRevokeRate < 0 || k.LeaseRevokeRate == 1 || k.LeaseRevokeRate > specMaxRevokeRate {
		v.add("cluster.lease_revoke_rate", "%d is out of range; allowed 0 (etcd's %s/s) or 2 to %s leases per second (runLoop revokes rate/2 per 500 ms pass)",
			k.LeaseRevokeRate, Thousands(model.LeaseRevokeRate), Thousands(specMaxRevokeRate))
	}
	if k.HeldLeases < 0 || k.HeldLeases > specMaxHeldLeases {
		v.add("cluster.held_leases", "%d is out of range; allowed 0 to %s leases", k.HeldLeases, Thousands(specMaxHeldLeases))
	}
	if lo := 5 * specHeartbeat; k.ElectionTimeout < lo || k.ElectionTimeout >= specMaxElection {
		v.add("cluster.election_timeout", "%v is out of range; allowed %v (etcd's minimum: 5 heartbeats of %v) up to below %v", k.ElectionTimeout, lo, specHeartbeat, specMaxElection)
	}
}

// costs checks the range of every cost a scenario or a parameter file sets,
// and reports whether they are all in range.
func (v *validator) costs(c CostsSpec) bool {
	n := len(v.errs)
	for _, d := range []struct {
		path string
		d    Duration
	}{
		{"costs.direct_renewal", c.DirectRenewal},
		{"costs.follower_renewal", c.FollowerRenewal},
		{"costs.leader_forwarded_renewal", c.LeaderForwarded},
		{"costs.tls_server_full", c.TLSServerFull},
		{"costs.tls_client_full", c.TLSClientFull},
		{"costs.tls_server_resumed", c.TLSServerResumed},
		{"costs.tls_client_resumed", c.TLSClientResumed},
		{"costs.tcp_accept", c.TCPAccept},
		{"costs.prober_connection", c.ProberConnection},
	} {
		if d.d < 0 || d.d > specMaxCost {
			v.add(d.path, "%v is out of range; allowed 0 (the default) to %v of CPU per operation", d.d, specMaxCost)
		}
	}
	for _, b := range []struct {
		path string
		n    int
	}{
		{"costs.queued_request_bytes", c.QueuedRequestBytes},
		{"costs.peer_conn_bytes", c.PeerConnBytes},
	} {
		if b.n < 0 || b.n > specMaxCostBytes {
			v.add(b.path, "%d is out of range; allowed 0 (the default) to %d bytes", b.n, specMaxCostBytes)
		}
	}
	if !(c.TLSFactor >= 0 && c.TLSFactor <= 100) {
		v.add("costs.tls_factor", "%g is out of range; allowed 0 (the default, 1) to 100", c.TLSFactor)
	}
	if c.IdleCores != nil && !(*c.IdleCores >= 0 && *c.IdleCores < MaxCores) {
		v.add("costs.idle_cores", "%g is out of range; allowed 0 (no idle CPU) up to below the member's cores", *c.IdleCores)
	}
	return len(v.errs) == n
}

// idle checks that the idle CPU each member burns (the default, else the
// params file's, else the scenario's own costs.idle_cores) leaves some of
// cluster.cores for requests, and blames whichever set it. With shared_cpu
// the members burn it together on one machine's cores.
func (v *validator) idle(k ClusterSpec, params string, fromParams, own CostsSpec) {
	cores, n := k.Cores, 1.0
	per := ""
	if k.SharedCPU && k.Members > 1 && k.Members <= MaxMembers {
		n = float64(k.Members)
		per = fmt.Sprintf(" x %d members sharing cluster.cores (shared_cpu)", k.Members)
	}
	if own.IdleCores != nil {
		if idle := *own.IdleCores; idle*n > cores-MinCores {
			v.add("costs.idle_cores", "%g%s leaves no CPU for requests on cluster.cores %g; allowed 0 up to %v below the cores", idle, per, cores, MinCores)
		}
		return
	}
	idle, from := DefaultCosts(DefaultTLS).IdleCores, "the default idle CPU"
	if fromParams.IdleCores != nil {
		idle, from = *fromParams.IdleCores, "the idle CPU of params "+params
	}
	if idle*n > cores-MinCores {
		v.add("cluster.cores", "%g leaves no CPU for requests: each member burns %g cores with no load%s (%s, costs.idle_cores); allowed at least %v more than that, or set costs.idle_cores lower", cores, idle, per, from, MinCores)
	}
}

// host checks host.background_cores: its form, that its largest level
// leaves CPU for etcd beside the members' idle CPU (idle per member), and
// that its steps over the duration are not too many to hold.
func (v *validator) host(h HostSpec, k ClusterSpec, idle float64, dur Duration) {
	b, err := ParseBackground(h.BackgroundCores)
	if err != nil {
		v.add("host.background_cores", "%v", err)
		return
	}
	if p := b.Period + b.On + b.Off; p > 0 && dur > 0 && int64(dur.D()/p) > MaxBackgroundSteps {
		v.add("host.background_cores", "%q changes %d times over %v; allowed at most %s (use a longer period)",
			h.BackgroundCores, int64(dur.D()/p), dur, Thousands(MaxBackgroundSteps))
	}
	if k.SharedCPU && k.Members > 1 && k.Members <= MaxMembers {
		idle *= float64(k.Members)
	}
	if limit := k.Cores - idle - MinCores; b.Max() > limit {
		v.add("host.background_cores", "%q takes up to %g cores, which leaves no CPU for etcd on cluster.cores %g (the members burn %.4g with no load); allowed levels from 0 up to %.4g",
			h.BackgroundCores, b.Max(), k.Cores, idle, limit)
	}
	switch n := h.BackgroundThreads; {
	case n < 0 || n > MaxBackgroundThreads:
		v.add("host.background_threads", "%d is out of range; allowed 0 (none) up to %d", n, MaxBackgroundThreads)
	case n > 0 && k.ProcessorSharing:
		v.add("host.background_threads", "%d is not allowed with cluster.processor_sharing; allowed there: 0 (use host.background_cores)", n)
	case n > 0:
		// The process's CFS share beside them (model.CPU) must leave CPU
		// beside its idle work at the background's largest level.
		procs, avail := math.Ceil(k.Cores), k.Cores-b.Max()
		if share := min(procs, avail*procs/(procs+float64(n))); share-idle < MinCores {
			v.add("host.background_threads", "%d threads beside host.background_cores %q leave the members %.4g cores of cluster.cores %g, no more than their idle CPU %.4g; allowed fewer threads or more cores",
				n, h.BackgroundCores, share, k.Cores, idle)
		}
	}
	if s := h.AllBusySpeed; !(s >= 0 && s <= 1) {
		v.add("host.all_busy_speed", "%g is out of range; allowed more than 0 up to 1 (left out: the parameter file's, else 1)", s)
	} else if s > 0 && h.BackgroundThreads == 0 {
		v.add("host.all_busy_speed", "%g has no effect without host.background_threads; allowed only with background_threads 1 or more", s)
	}
}

func (v *validator) faults(fs []FaultSpec, leader int, dur Duration, durOK, membersOK bool, members int, raft bool) {
	var prev Duration
	for i, f := range fs {
		p := fmt.Sprintf("faults[%d]", i)
		switch {
		case f.At < 0:
			v.add(p+".at", "%v is negative; allowed 0 up to below the duration", f.At)
		case durOK && f.At >= dur:
			v.add(p+".at", "%v is not within the run; allowed 0 up to below the duration (%v)", f.At, dur)
		case i > 0 && f.At < prev:
			v.add(p+".at", "%v is before faults[%d].at (%v); allowed: faults listed in time order", f.At, i-1, prev)
		}
		prev = max(prev, f.At)
		switch f.Kind {
		case FaultLeaderChange:
			switch {
			case f.To < 0 || (membersOK && f.To >= members):
				if membersOK {
					v.add(p+".to", "%d is not a member; allowed 0 to %d", f.To, members-1)
				} else {
					v.add(p+".to", "%d is not a member; allowed a member number from 0", f.To)
				}
			case f.To == leader:
				v.add(p+".to", "%d is already the leader at %v; allowed: another member (a leader change moves the leadership)", f.To, f.At)
			default:
				leader = f.To
			}
			if f.Duration < 0 || (durOK && f.Duration > dur) {
				v.add(p+".duration", "%v is out of range; allowed 0 up to the run's duration (%v) for the election", f.Duration, dur)
			}
		case FaultLeaderStall, FaultApplyStall, FaultFsyncStall:
			if f.Kind == FaultFsyncStall && !raft {
				v.add(p+".kind", "%s needs cluster.raft: true (the blocked leader is deposed by raft's election); allowed without it: %s, %s, %s, %s", f.Kind, FaultLeaderChange, FaultLeaderStall, FaultApplyStall, FaultPartition)
			}
			if f.To != 0 {
				v.add(p+".to", "%d is set, but only a %s has a target; allowed: left out", f.To, FaultLeaderChange)
			}
			if f.Duration <= 0 || (durOK && f.Duration > dur) {
				v.add(p+".duration", "%v is out of range; allowed > 0 up to the run's duration (%v) for a stall", f.Duration, dur)
			}
		case FaultPartition:
			switch {
			case f.Member < 0 || (membersOK && f.Member >= members):
				v.add(p+".member", "%d is not a member; allowed 0 to %d", f.Member, members-1)
			case f.Member == leader && !raft:
				// With cluster.raft a partitioned leader is modelled: its
				// followers elect another, CheckQuorum deposes it.
				v.add(p+".member", "%d is the leader at %v; allowed: a follower (without cluster.raft leasesim partitions followers only; model a partitioned leader as a %s, or turn cluster.raft on)", f.Member, f.At, FaultLeaderChange)
			}
			if f.Duration <= 0 || (durOK && f.Duration > dur) {
				v.add(p+".duration", "%v is out of range; allowed > 0 up to the run's duration (%v) for a partition", f.Duration, dur)
			}
		default:
			v.add(p+".kind", "%q is not allowed; allowed: %s, %s, %s, %s, %s", f.Kind, FaultLeaderChange, FaultLeaderStall, FaultApplyStall, FaultPartition, FaultFsyncStall)
		}
		if f.Kind != FaultPartition && f.Member != 0 {
			v.add(p+".member", "%d is set, but only a %s has a member; allowed: left out", f.Member, FaultPartition)
		}
	}
}

// minLeaseTTL is etcd's minimum lease TTL for an election timeout:
// ceil((3 x electionTicks / 2) x heartbeat) in whole seconds
// (server/v3 etcdserver/server.go:340-345); 2 s with the defaults (MinTTL).
func minLeaseTTL(election Duration) Duration {
	ticks := int64(election / specHeartbeat)
	d := Duration(3*ticks/2) * specHeartbeat
	sec := Duration(1e9)
	return (d + sec - 1) / sec * sec
}

// Thousands formats n with commas: 20000 -> "20,000".
func Thousands[T int | int64 | uint64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Summary

// Summary describes the scenario in one paragraph, for humans: who the
// clients are, what they talk to and what happens. It reads the scenario as
// ApplyDefaults completes it and does not require it to be valid. The text is
// Printable: a name's control characters do not reach a terminal.
func (s Spec) Summary() string {
	s.ApplyDefaults() // on a copy
	c := s.Clients
	var b strings.Builder
	if s.Name != "" {
		fmt.Fprintf(&b, "%s: ", s.Name)
	}
	fmt.Fprintf(&b, "%s client", Thousands(c.Count))
	if c.Count != 1 {
		b.WriteString("s")
	}
	rule := ""
	if v, err := clientmodel.ParseVersion(c.Version); err == nil {
		rule = ", " + v.Rule.String() + " keepalive rule"
	}
	ttl := c.TTL.String()
	if c.TTL > 0 && c.TTL%Duration(1e9) == 0 {
		ttl = fmt.Sprintf("%ds", c.TTL/Duration(1e9)) // etcd's unit: "600s", not "10m"
	}
	if c.Kind == ClientEventWriter {
		limit := "unbounded"
		if c.LeaseMaxObjects > 0 {
			limit = "at most " + Thousands(c.LeaseMaxObjects)
		}
		op := WriteTxn
		if c.WriteOp != "" {
			op = c.WriteOp
		}
		fmt.Fprintf(&b, " (kube-apiservers) each writing %v events/s (%s), TTL %s, on a lease reused for %v with %s keys", c.WriteRate, op, ttl, model.LeaseReuse, limit)
	} else {
		if c.LeasesPerClient > 1 {
			fmt.Fprintf(&b, " (clientv3 %s%s), each holding %d leases with TTL %s on one lessor (one stream, one scan)", c.Version, rule, c.LeasesPerClient, ttl)
		} else {
			fmt.Fprintf(&b, " (clientv3 %s%s), each holding one lease with TTL %s", c.Version, rule, ttl)
		}
	}
	if c.KeysPerLease > 1 {
		fmt.Fprintf(&b, " and %d keys", c.KeysPerLease)
	}
	switch c.Kind {
	case ClientEventWriter: // nothing is renewed
	case ClientGrantOnly:
		b.WriteString(" granted and never renewed")
	case ClientKeepAliveOnce:
		p := "TTL/3"
		if c.Period > 0 {
			p = c.Period.String()
		}
		fmt.Fprintf(&b, " kept alive by KeepAliveOnce: one call, its answer awaited, then a sleep of %s", p)
	default:
		fmt.Fprintf(&b, " kept alive by KeepAlive; the application %s", consumerPhrase(c.Consumer))
	}
	if c.StartSpread > 0 {
		fmt.Fprintf(&b, ". They start at random over the first %v", c.StartSpread)
	} else {
		b.WriteString(". They all start at once")
	}
	switch s.Server {
	case ServerIdeal:
		fmt.Fprintf(&b, " against an idealised server (round trip %v, no capacity limit).", deref(c.RTT))
	case ServerCluster:
		k := s.Cluster
		fmt.Fprintf(&b, ", placed %s, against a %d-member etcd cluster with %v cores per member (initial leader: member %d; client round trip %v, peer round trip %v",
			placementPhrase(c.Placement), k.Members, k.Cores, k.Leader, deref(c.RTT), deref(k.PeerRTT))
		if k.PeerJitter > 0 {
			fmt.Fprintf(&b, " + up to %v jitter", k.PeerJitter)
		}
		b.WriteString("). Followers forward renewals to the leader over ")
		switch k.Transport {
		case "http1":
			b.WriteString("HTTP/1.1 (one request per connection at a time")
			fmt.Fprintf(&b, ", up to %s idle connections per peer)", Thousands(k.MaxIdleConnsPerHost))
		case "http2":
			b.WriteString("HTTP/2 (one multiplexed connection per member pair)")
		default:
			fmt.Fprintf(&b, "transport %q", k.Transport)
		}
		switch k.TLS {
		case "rsa":
			b.WriteString(" with RSA-2048 mutual TLS")
		case "ecdsa":
			b.WriteString(" with ECDSA P-256 mutual TLS")
		case "off":
			b.WriteString(" without TLS")
		default:
			fmt.Fprintf(&b, " with TLS %q", k.TLS)
		}
		if k.TLS != "off" {
			if k.TLSResumption {
				b.WriteString(" (sessions resumed")
			} else {
				b.WriteString(" (every handshake full")
			}
			if k.TLSClose == "time-wait" {
				b.WriteString("; closed connections wait in TIME-WAIT)")
			} else {
				b.WriteString("; closed connections end in a reset)")
			}
		}
		if k.LeaderQueueLimit > 0 {
			fmt.Fprintf(&b, "; the leader sheds requests beyond a queue of %s", Thousands(k.LeaderQueueLimit))
		}
		if k.Prober != nil && !*k.Prober {
			b.WriteString("; raft probing is off")
		} else if k.ProberPhase == ProberTogether {
			b.WriteString("; the members' probers tick together")
		} else if k.ProberPhase == ProberSkewed {
			b.WriteString("; the members' probers tick within a measured start skew of each other")
		}
		if _, ok := PlatformStallTables[k.PlatformStalls]; ok {
			fmt.Fprintf(&b, "; the members' process stalls as measured (%s)", k.PlatformStalls)
		}
		if k.EtcdVersion != "" {
			fmt.Fprintf(&b, "; the members run etcd %s", k.EtcdVersion)
		}
		if k.LeaseRevokeRate > 0 {
			fmt.Fprintf(&b, "; the leader revokes up to %s expired leases/s", Thousands(k.LeaseRevokeRate))
		}
		if k.LeaseCheckpoint {
			b.WriteString("; lease checkpointing is on")
			if ev, err := k.etcd(); err == nil && !ev.PromoteSchedulesCheckpoints() {
				b.WriteString(", but a new leader schedules checkpoints only for the leases it spreads (etcd #13491, fixed in 3.4.20 and 3.5.2)")
			}
		}
		if k.HeldLeases > 0 {
			fmt.Fprintf(&b, "; the cluster also holds %s leases of other applications", Thousands(k.HeldLeases))
		}
		if k.Raft {
			b.WriteString("; raft heartbeats and elections are simulated")
			switch k.RaftWait {
			case "backlog":
				b.WriteString(" (a busy member's raft loop waits for its whole CPU backlog)")
			case "measured":
				b.WriteString(" (a busy member reads raft messages after its CPU backlog and sends them within Go's 10 ms slice, as measured)")
			}
		}
		if k.GC {
			b.WriteString("; Go's garbage collector is modelled")
			if k.GOGC > 0 {
				fmt.Fprintf(&b, " at GOGC %d", k.GOGC)
			}
		}
		if k.ServiceSpread {
			b.WriteString("; each request's CPU cost varies")
		}
		if k.ProcessorSharing {
			b.WriteString("; each member's cores are shared among the requests in it")
		}
		if k.FollowerAnswerShare > 0 {
			fmt.Fprintf(&b, "; a follower spends %.0f%% of its work on a forward reading the answer, and pools the connection after that", 100*k.FollowerAnswerShare)
		}
		if bg, err := ParseBackground(s.Host.BackgroundCores); err == nil && bg.Kind != "" {
			fmt.Fprintf(&b, "; other processes on the machine take %s", bg)
		}
		if n := s.Host.BackgroundThreads; n > 0 {
			fmt.Fprintf(&b, "; %d other threads always runnable share the cores with the members per thread", n)
			if sp := s.Host.AllBusySpeed; sp > 0 {
				fmt.Fprintf(&b, ", every thread at %g of its speed while all cores are busy", sp)
			}
		}
		b.WriteString(".")
		if s.Params != "" {
			fmt.Fprintf(&b, " CPU costs from parameter file %s.", s.Params)
		}
		if s.Costs != (CostsSpec{}) {
			b.WriteString(" Some CPU costs are overridden.")
		}
	default:
		fmt.Fprintf(&b, " against server %q.", s.Server)
	}
	if r := c.Restart; r.Fraction > 0 {
		how := "without revoking its lease"
		if r.Graceful {
			how = "revoking its lease (Session.Close)"
		}
		fmt.Fprintf(&b, " %g%% of the client processes restart from %v over %v: each exits %s and starts again %v later with a new lease.", 100*r.Fraction, r.At, r.Over, how, r.Down)
	}
	if len(s.Faults) == 0 {
		b.WriteString(" No faults.")
	} else {
		var fs []string
		for _, f := range s.Faults {
			switch f.Kind {
			case FaultLeaderChange:
				fs = append(fs, fmt.Sprintf("at %v the leadership moves to member %d after %v without a leader", f.At, f.To, f.Duration))
			case FaultLeaderStall:
				fs = append(fs, fmt.Sprintf("at %v the leader stalls for %v", f.At, f.Duration))
			case FaultApplyStall:
				fs = append(fs, fmt.Sprintf("at %v the leader's apply loop stalls for %v", f.At, f.Duration))
			case FaultFsyncStall:
				fs = append(fs, fmt.Sprintf("at %v the leader's raft loop blocks in fdatasync for %v", f.At, f.Duration))
			case FaultPartition:
				fs = append(fs, fmt.Sprintf("at %v member %d is cut off from the others for %v", f.At, f.Member, f.Duration))
			default:
				fs = append(fs, fmt.Sprintf("at %v fault %q", f.At, f.Kind))
			}
		}
		fmt.Fprintf(&b, " Faults: %s.", strings.Join(fs, "; "))
	}
	fmt.Fprintf(&b, " Simulated for %v (seed %d)", s.Duration, s.Seed)
	if r, err := s.Resolve(); err == nil && r.Cluster != nil && r.Cluster.Fast {
		fmt.Fprintf(&b, " in the fast mode: one simulated client per cohort of %s clients assumed in lockstep (%s simulated)",
			Thousands(r.Cluster.Cohort), Thousands(r.Cluster.Clients))
	}
	b.WriteString(".")
	return Printable(b.String())
}

func consumerPhrase(s string) string {
	c, err := ParseConsumer(s)
	if err != nil {
		return fmt.Sprintf("reads the channel as %q", s)
	}
	switch s {
	case "drain":
		return "reads every response"
	case "never":
		return "never reads the channel"
	}
	switch {
	case strings.HasPrefix(s, "rate:"):
		return fmt.Sprintf("reads %s responses per second", strings.TrimPrefix(s, "rate:"))
	case strings.HasPrefix(s, "pace:"):
		return fmt.Sprintf("reads a response, then sleeps 1/%s s", strings.TrimPrefix(s, "pace:"))
	case strings.HasPrefix(s, "stop-after:"):
		return fmt.Sprintf("reads %d responses, then stops", c.K)
	case strings.HasPrefix(s, "stall:"):
		return fmt.Sprintf("stops reading from %v to %v after its KeepAlive", Duration(c.From), Duration(c.To))
	}
	return s
}

func placementPhrase(p string) string {
	switch {
	case p == DefaultPlacement:
		return "round-robin over the members"
	case p == "leader":
		return "all on the leader"
	case p == "followers":
		return "round-robin over the followers"
	case strings.HasPrefix(p, "member:"):
		return "all on member " + strings.TrimPrefix(p, "member:")
	}
	return fmt.Sprintf("%q", p)
}

// leasesPerClient checks clients.leases_per_client: several leases on one
// lessor are simulated for the cluster's keepalive clients only, and not
// with restarts or re-granting agents (their processes hold one lease each).
func (v *validator) leasesPerClient(c ClientsSpec, cluster bool) {
	n := c.LeasesPerClient
	if n < 0 || n > specMaxLeasesPerClient {
		v.add("clients.leases_per_client", "%d is out of range; allowed 1 (the default, also written 0) up to %d", n, specMaxLeasesPerClient)
		return
	}
	if n <= 1 {
		return
	}
	if !cluster || (c.Kind != "" && c.Kind != ClientKeepAlive) {
		v.add("clients.leases_per_client", "%d needs server: cluster and clients.kind %s (clients.kind is %q); allowed otherwise: 1", n, ClientKeepAlive, c.Kind)
	}
	if c.Restart.Fraction != 0 {
		v.add("clients.leases_per_client", "%d cannot be combined with clients.restart (fraction %v); allowed with it: 1", n, c.Restart.Fraction)
	}
	if c.Regrant.Max != 0 {
		v.add("clients.leases_per_client", "%d cannot be combined with clients.regrant (max %d); allowed with it: 1", n, c.Regrant.Max)
	}
	if c.Count*n > MaxClients {
		v.add("clients.leases_per_client", "%d leases for each of %d clients is %s leases; allowed up to %s in all", n, c.Count, Thousands(c.Count*n), Thousands(MaxClients))
	}
}
