package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

// rowColumns are the CSV columns after index and the varied flags.
var rowColumns = []string{"seed", "renewals_per_s", "leader_cpu_peak", "leases_expired", string(recorder.KeysLost),
	"peak_new_conns_per_s", "peak_handshakes_per_s", "peak_queue_bytes", "peak_time_wait", "peak_dial_errors_per_s", "verdict"}

// kneeColumns are the knee CSV's columns after index and the varied flags.
// The columns after first_saturating came with the multi-seed search:
// at_verdict is the first seed's, at_class all seeds'; fail_fractions lists
// every probed count as COUNT:FAILED/SEEDS, space-separated, in order.
var kneeColumns = []string{"max_clients", "bracketed", "at", "at_verdict", "headroom", "first_saturating",
	"seeds", "horizon_s", "lowest_fail", "highest_pass", "metastable", "band_low", "band_high", "at_class", "fail_fractions"}

// FailFractions is a knee's probed counts as "COUNT:FAILED/SEEDS ...".
func (k Knee) FailFractions() string {
	var parts []string
	for _, p := range k.Points {
		parts = append(parts, fmt.Sprintf("%d:%d/%d", p.Clients, p.Failed, p.Seeds))
	}
	return strings.Join(parts, " ")
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// WriteCSV writes one row per grid point (or, for a knee search, one per
// configuration): index, the varied flags, then the measurements.
func (r Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	flags := r.Grid.Flags()
	if r.Knees != nil {
		cw.Write(append(append([]string{"index"}, flags...), kneeColumns...))
		for _, k := range r.Knees {
			rec := []string{strconv.Itoa(k.Index)}
			for _, f := range flags {
				rec = append(rec, k.Values[f])
			}
			rec = append(rec, strconv.Itoa(k.MaxClients), strconv.FormatBool(k.Bracketed), strconv.Itoa(k.At),
				k.AtRow.Verdict, num(k.Headroom), k.FirstSaturating,
				strconv.Itoa(len(k.Seeds)), num(k.HorizonS), strconv.Itoa(k.LowestFail), strconv.Itoa(k.HighestPass),
				strconv.FormatBool(k.Metastable), strconv.Itoa(k.BandLow), strconv.Itoa(k.BandHigh), k.AtClass, k.FailFractions())
			cw.Write(rec)
		}
	} else {
		cw.Write(append(append([]string{"index"}, flags...), rowColumns...))
		for _, row := range r.Rows {
			rec := []string{strconv.Itoa(row.Index)}
			for _, f := range flags {
				rec = append(rec, row.Values[f])
			}
			rec = append(rec, strconv.FormatUint(row.Seed, 10), num(row.RenewalsPerS), num(row.LeaderCPUPeak),
				strconv.FormatUint(row.LeasesExpired, 10), strconv.FormatUint(row.KeysLost, 10),
				num(row.PeakNewConnsPerS), num(row.PeakHandshakesPerS), num(row.PeakQueueBytes),
				num(row.PeakTimeWait), num(row.PeakDialErrs), row.Verdict)
			cw.Write(rec)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	// The trailer: what the rows are of, so that a CSV from an interrupted run
	// says so, and merge can tell a complete grid from a partial one.
	for _, row := range r.Rows {
		if row.Verdict == VerdictError {
			if _, err := fmt.Fprintf(w, "# error: grid point %d: %s\n", row.Index, oneLine(row.Error)); err != nil {
				return err
			}
		}
	}
	fidelity := ""
	if r.Fidelity != "" {
		fidelity = " fidelity=" + r.Fidelity // only when not exact: exact sweeps' CSV is as it was
	}
	_, err := fmt.Fprintf(w, "%s grid_size=%d shard=%s complete=%t interrupted=%t%s\n",
		csvTrailer, r.GridSize, orDash(r.Shard), r.Complete, r.Interrupted, fidelity)
	return err
}

// csvTrailer starts the last line of a sweep CSV.
const csvTrailer = "# leasesim sweep:"

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orExact(fidelity string) string {
	if fidelity == "" {
		return spec.FidelityExact
	}
	return fidelity
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readTrailer parses a sweep CSV's trailer line into r; a CSV without one
// (older leasesim) leaves the grid size unknown.
func readTrailer(line string, r *Result) error {
	for _, kv := range strings.Fields(strings.TrimPrefix(line, csvTrailer)) {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "grid_size":
			r.GridSize, err = strconv.Atoi(v)
		case "shard":
			if v != "-" {
				r.Shard = v
			}
		case "complete":
			r.Complete, err = strconv.ParseBool(v)
		case "interrupted":
			r.Interrupted, err = strconv.ParseBool(v)
		case "fidelity":
			r.Fidelity = v
		}
		if err != nil {
			return fmt.Errorf("trailer %q: %s: %w", line, k, err)
		}
	}
	return nil
}

// WriteJSON writes the whole result, indented.
func (r Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(r)
}

// Read reads a result written by WriteJSON or (grid rows only) WriteCSV. A
// CSV result knows its varied flags but not their full value lists.
func Read(data []byte) (Result, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var r Result
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return Result{}, fmt.Errorf("not a leasesim sweep JSON: %w", err)
		}
		return r, nil
	}
	// Comment lines: errors of failed points, and the trailer.
	var body bytes.Buffer
	var trailer string
	errs := map[int]string{}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, csvTrailer):
			trailer = strings.TrimSpace(line)
		case strings.HasPrefix(line, "# error: grid point "):
			rest := strings.TrimPrefix(strings.TrimSpace(line), "# error: grid point ")
			n, msg, _ := strings.Cut(rest, ": ")
			if i, err := strconv.Atoi(n); err == nil {
				errs[i] = msg
			}
		case strings.HasPrefix(line, "#"):
		default:
			body.WriteString(line)
		}
	}
	recs, err := csv.NewReader(&body).ReadAll()
	if err != nil {
		return Result{}, fmt.Errorf("not a leasesim sweep CSV: %w", err)
	}
	if len(recs) == 0 || len(recs[0]) < 1+len(rowColumns) || recs[0][0] != "index" {
		if len(recs) > 0 && slices.Contains(recs[0], "max_clients") {
			return Result{}, fmt.Errorf("knee results cannot be merged from CSV; merge their JSON (--out FILE.json)")
		}
		return Result{}, fmt.Errorf("not a leasesim sweep CSV: the header must start with index and end with %s", strings.Join(rowColumns, ","))
	}
	head := recs[0]
	nf := len(head) - 1 - len(rowColumns)
	if !slices.Equal(head[1+nf:], rowColumns) {
		return Result{}, fmt.Errorf("not a leasesim sweep CSV: the header must end with %s", strings.Join(rowColumns, ","))
	}
	var r Result
	if err := readTrailer(trailer, &r); err != nil {
		return Result{}, fmt.Errorf("not a leasesim sweep CSV: %w", err)
	}
	for _, f := range head[1 : 1+nf] {
		r.Grid = append(r.Grid, Axis{Flag: f})
	}
	for ln, rec := range recs[1:] {
		bad := func(col string, err error) error {
			return fmt.Errorf("line %d, column %s: %v", ln+2, col, err)
		}
		row := Row{Values: map[string]string{}}
		if row.Index, err = strconv.Atoi(rec[0]); err != nil {
			return Result{}, bad("index", err)
		}
		for k, f := range head[1 : 1+nf] {
			row.Values[f] = rec[1+k]
		}
		v := rec[1+nf:]
		u := func(i int, dst *uint64) {
			if err == nil {
				if *dst, err = strconv.ParseUint(v[i], 10, 64); err != nil {
					err = bad(rowColumns[i], err)
				}
			}
		}
		fl := func(i int, dst *float64) {
			if err == nil {
				if *dst, err = strconv.ParseFloat(v[i], 64); err != nil {
					err = bad(rowColumns[i], err)
				}
			}
		}
		u(0, &row.Seed)
		fl(1, &row.RenewalsPerS)
		fl(2, &row.LeaderCPUPeak)
		u(3, &row.LeasesExpired)
		u(4, &row.KeysLost)
		fl(5, &row.PeakNewConnsPerS)
		fl(6, &row.PeakHandshakesPerS)
		fl(7, &row.PeakQueueBytes)
		fl(8, &row.PeakTimeWait)
		fl(9, &row.PeakDialErrs)
		if err != nil {
			return Result{}, err
		}
		if row.Verdict = v[10]; row.Verdict != VerdictOK && row.Verdict != VerdictFail && row.Verdict != VerdictError {
			return Result{}, bad("verdict", fmt.Errorf("%q is not ok, fail or error", v[10]))
		}
		row.Error = errs[row.Index]
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

// Merge combines the outputs of a sweep's shards (or any partial outputs of
// the same sweep) into one result ordered by grid index. The parts must come
// from the same scenario, seed, CPU target and grid; a point present in
// several parts must have the same result in each. The merged result is
// Complete when every grid point is present (JSON parts, whose grid is known).
func Merge(parts ...Result) (Result, error) {
	if len(parts) == 0 {
		return Result{}, fmt.Errorf("nothing to merge")
	}
	m := parts[0]
	m.Shard, m.Rows, m.Knees = "", nil, nil
	knees := parts[0].Knees != nil
	rows := map[int]Row{}
	kn := map[int]Knee{}
	for i, p := range parts {
		if err := p.check(); err != nil {
			return Result{}, fmt.Errorf("part %d: %w", i+1, err)
		}
		if p.Scenario != m.Scenario || p.Seed != m.Seed || p.CPUTarget != m.CPUTarget || p.GridSize != m.GridSize || p.Fidelity != m.Fidelity {
			return Result{}, fmt.Errorf("part %d is from another sweep (scenario %q seed %d cpu target %g grid size %d fidelity %s; part 1: %q %d %g %d %s)",
				i+1, p.Scenario, p.Seed, p.CPUTarget, p.GridSize, orExact(p.Fidelity), m.Scenario, m.Seed, m.CPUTarget, m.GridSize, orExact(m.Fidelity))
		}
		if !reflect.DeepEqual(p.Grid, m.Grid) {
			return Result{}, fmt.Errorf("part %d has another grid (%v; part 1: %v)", i+1, p.Grid, m.Grid)
		}
		if (p.Knees != nil) != knees {
			return Result{}, fmt.Errorf("part %d mixes knee results and grid rows", i+1)
		}
		for _, r := range p.Rows {
			if old, ok := rows[r.Index]; ok && !reflect.DeepEqual(old, r) {
				return Result{}, fmt.Errorf("grid point %d differs between parts (part %d)", r.Index, i+1)
			}
			rows[r.Index] = r
		}
		for _, k := range p.Knees {
			if old, ok := kn[k.Index]; ok && !reflect.DeepEqual(old, k) {
				return Result{}, fmt.Errorf("configuration %d differs between parts (part %d)", k.Index, i+1)
			}
			kn[k.Index] = k
		}
	}
	for _, i := range slices.Sorted(maps.Keys(rows)) {
		m.Rows = append(m.Rows, rows[i])
	}
	for _, i := range slices.Sorted(maps.Keys(kn)) {
		m.Knees = append(m.Knees, kn[i])
	}
	n := len(m.Rows)
	if knees {
		n = len(m.Knees)
		if m.Knees == nil {
			m.Knees = []Knee{}
		}
	}
	m.Complete = m.GridSize > 0 && n == m.GridSize
	return m, nil
}

// check refuses a part that cannot be merged: an interrupted run (its rows
// stop short), or one whose grid size, indexes or values do not add up
// (a damaged or forged file).
func (r Result) check() error {
	if r.Interrupted {
		return fmt.Errorf("its run was interrupted after %d rows (shard %s): run it again to completion", len(r.Rows)+len(r.Knees), orDash(r.Shard))
	}
	known := r.Grid.known()
	if r.GridSize < 0 || r.GridSize > MaxGridSize || (known && r.GridSize != r.Grid.Size()) {
		return fmt.Errorf("grid_size %d does not match its grid (%d points; at most %d)", r.GridSize, r.Grid.Size(), MaxGridSize)
	}
	var shard Shard
	if r.Shard != "" {
		var err error
		if shard, err = ParseShard(r.Shard); err != nil {
			return fmt.Errorf("shard: %w", err)
		}
	}
	seen := map[int]bool{}
	check := func(idx int, values map[string]string) error {
		switch {
		case idx < 0 || (r.GridSize > 0 && idx >= r.GridSize):
			return fmt.Errorf("grid point %d is outside the grid (0 to %d)", idx, r.GridSize-1)
		case seen[idx]:
			return fmt.Errorf("grid point %d appears twice", idx)
		case r.Shard != "" && !shard.Has(idx):
			return fmt.Errorf("grid point %d is not in shard %s", idx, r.Shard)
		}
		seen[idx] = true
		if known {
			for k, v := range r.Grid.Point(idx) {
				if values[r.Grid[k].Flag] != v {
					return fmt.Errorf("grid point %d has %s=%q, but the grid says %q", idx, r.Grid[k].Flag, values[r.Grid[k].Flag], v)
				}
			}
		}
		return nil
	}
	for _, row := range r.Rows {
		if err := check(row.Index, row.Values); err != nil {
			return err
		}
	}
	for _, k := range r.Knees {
		if err := check(k.Index, k.Values); err != nil {
			return err
		}
	}
	return nil
}

// MaxGridSize bounds a sweep's grid (and what merge believes of a part).
const MaxGridSize = 1_000_000

// Missing lists the grid points a (merged) result lacks; nil if its grid is unknown.
func (r Result) Missing() []int {
	have := map[int]bool{}
	for _, x := range r.Rows {
		have[x.Index] = true
	}
	for _, k := range r.Knees {
		have[k.Index] = true
	}
	var miss []int
	for i := 0; i < r.GridSize; i++ {
		if !have[i] {
			miss = append(miss, i)
		}
	}
	return miss
}
