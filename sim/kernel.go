// Package sim is leasesim's deterministic discrete-event kernel: a virtual clock,
// an event queue and seeded random streams. It knows nothing of etcd.
//
// Terms:
//   - Time is virtual time in nanoseconds since the start of a run. Nothing in a
//     simulation reads the wall clock; components get Time as an input.
//   - An event is a payload due at a Time. Events are delivered in (time, seq)
//     order, where seq is the order in which they were scheduled, so two events
//     due at the same instant are delivered first-scheduled first, on every run,
//     whatever GOMAXPROCS is. The kernel runs on the caller's goroutine and starts
//     none of its own.
//   - A Rand is a random stream derived from a root seed and a name (see rand.go).
//
// The kernel is generic over the payload type so that components can pass small
// value types without boxing them into interfaces (one allocation per event would
// dominate a run of 10^8 events).
package sim

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"reflect"
	"slices"
	"time"
	"unsafe"
)

// Time is virtual time, in nanoseconds since the start of the run.
type Time int64

// Duration converts t to a time.Duration (for printing and arithmetic).
func (t Time) Duration() time.Duration { return time.Duration(t) }

// String prints t as a duration since the start of the run.
func (t Time) String() string { return time.Duration(t).String() }

// At converts a duration since the start of the run into a Time.
func At(d time.Duration) Time { return Time(d) }

// ErrEventLimit is returned by Run when the event budget is exhausted.
var ErrEventLimit = errors.New("sim: event limit reached")

// entry is a queued event: its time, and a key that orders it and locates its
// payload. The payloads live in a separate slab so that queues move 16-byte
// entries, not whole payloads.
//
// key packs the scheduling sequence number (high 39 bits) above a flag bit
// (keyRef: the event was scheduled with ScheduleRef) and the payload's
// slab slot (low 24 bits), so an entry is 16 bytes and comparing keys compares
// sequence numbers (each is unique). That bounds a run to 2^39 scheduled
// events and 2^24 pending at once; Schedule panics beyond either.
type entry struct {
	at  Time
	key uint64
}

const (
	slotBits = 24
	maxSlots = 1 << slotBits
	keyRef   = 1 << slotBits // an event with a Ref: only these are looked up in refs
	seqShift = slotBits + 1
	maxSeq   = 1<<(64-seqShift) - 1
)

func (e *entry) slot() uint32 { return uint32(e.key & (maxSlots - 1)) }

func (a *entry) before(b *entry) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.key < b.key
}

// The queue is a timing wheel in front of a heap. Time is cut into slots of
// 2^slotShift ns (~131 µs). Events due in the current slot (or earlier) sit in a
// small 4-ary heap on (at, seq); events in the next wheelSlots-1 slots (~1.07 s) are
// appended, unsorted, to their wheel slot and heapified when the wheel reaches
// it; later events wait in an overflow heap and move onto the wheel as it
// turns. Delivery order is exactly (at, seq): every event in the current heap
// is due before any event on the wheel, and every wheel event before any in
// the overflow. Most of a simulation's events are due within a second (client
// scans, network hops, CPU work), so they are filed in O(1) and sorted in a
// heap of one slot's events, which stays in cache.
const (
	slotShift  = 17 // 131 µs
	wheelSlots = 8192
	wheelMask  = wheelSlots - 1
)

// Kernel is a discrete-event scheduler for payloads of type P.
// The zero value is not usable; call New.
type Kernel[P any] struct {
	now Time
	seq uint64
	cur int64 // the current slot number (time >> slotShift)
	// Events due in slots <= cur: the current slot's wheel events, sorted
	// when the wheel turned to it (run[runHead:]), and a 4-ary min-heap on
	// (at, seq) of the events scheduled into it since. The next event is the
	// earlier of their heads.
	run     []entry
	runHead int
	scratch []entry // sortRun's buffer
	heap    []entry
	wheel   [wheelSlots][]entry
	inWheel int
	occ     [wheelSlots / 64]uint64 // bit i: wheel slot i holds events
	over    []entry                 // events due in slots >= cur+wheelSlots: 4-ary min-heap
	n       int                     // events queued in all
	slab    []P                     // payloads, by slot
	free    []uint32
	steps   uint64
	limit   uint64 // 0 = no limit on delivered events
	// clearSlots: P holds pointers, so a delivered payload's slot is zeroed
	// to let the garbage collector free what it referenced.
	clearSlots bool
	maxHeap    int  // 0 = no limit on queued events
	touched    byte // see RunUntil
	// touch, if set, reads the state the handler of an event will read
	// (SetTouch).
	touch func(p *P) byte
	// refs: per slab slot, the bookkeeping of an event scheduled with
	// ScheduleRef (id 0: none), so that it can be moved (Move).
	refs  []refMeta
	moves uint64
}

// Ref names an event scheduled with ScheduleRef, for Move and Due; it stays
// valid while the event is queued, moves included. It packs the event's
// first sequence number above its slab slot (8 bytes: a simulation may hold
// a few per component). The zero Ref names no event.
type Ref uint64

func (r Ref) slot() uint32 { return uint32(r & (maxSlots - 1)) }
func (r Ref) id() uint64   { return uint64(r) >> slotBits }

// refMeta is a ScheduleRef event's bookkeeping: its Ref's id, the time it is
// filed at, and the time it is to move to when that comes (0: none).
type refMeta struct {
	id     uint64
	at, to Time
}

// New returns a kernel at time 0 with an empty queue.
func New[P any]() *Kernel[P] {
	return &Kernel[P]{heap: make([]entry, 0, 1024), slab: make([]P, 0, 1024), clearSlots: hasPointers(reflect.TypeFor[P]())}
}

// hasPointers reports whether values of t can hold references the garbage
// collector must see (a delivered payload's slab slot is then cleared).
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

// SetLimits bounds the number of events the kernel will deliver (maxSteps) and
// hold at once (maxQueued); 0 means unbounded. A run that hits either limit stops
// with an error instead of eating the machine.
func (k *Kernel[P]) SetLimits(maxSteps uint64, maxQueued int) {
	k.limit, k.maxHeap = maxSteps, maxQueued
}

// Now is the current virtual time: the time of the event last delivered.
func (k *Kernel[P]) Now() Time { return k.now }

// Steps is the number of events delivered so far.
func (k *Kernel[P]) Steps() uint64 { return k.steps }

// Len is the number of events waiting.
func (k *Kernel[P]) Len() int { return k.n }

// Schedule queues p for delivery at time at. Scheduling in the past is a bug in
// the caller and panics: an event can never be delivered before the one that
// caused it.
func (k *Kernel[P]) Schedule(at Time, p P) { k.schedule(at, p, 0) }

// ScheduleRef is Schedule, returning a Ref by which the event can be moved
// later (Move) while it is queued.
func (k *Kernel[P]) ScheduleRef(at Time, p P) Ref {
	slot := k.schedule(at, p, keyRef)
	if n := len(k.slab); len(k.refs) < n {
		k.refs = append(k.refs, make([]refMeta, n-len(k.refs))...)
	}
	k.refs[slot] = refMeta{id: k.seq, at: at}
	return Ref(k.seq<<slotBits | uint64(slot))
}

// Due reports the time the event r is filed at, and false if it is no
// longer queued: it has been delivered (while its handler runs, it is still
// due then, so that the handler can tell where a moved event had got to).
func (k *Kernel[P]) Due(r Ref) (Time, bool) {
	if r == 0 || k.refs[r.slot()].id != r.id() {
		return 0, false
	}
	return k.refs[r.slot()].at, true
}

// Move arranges for the queued event r, when it comes due, not to be
// delivered but filed again at to, as if its handler had scheduled it anew
// then: a fresh sequence number, drawn at the instant and in the place in
// the delivery order that the event holds. So the order of every delivered
// event is what it would have been had r been delivered to a handler that
// only re-scheduled it. This is for a timer that most often finds nothing to
// do but wait longer (a lazily re-armed timer), whose owner knows in advance
// that it will: the wasted delivery is skipped, the order kept. to = 0
// cancels the move (the event is delivered). It reports whether r was
// queued; if not, it does nothing.
//
// A move is not a delivered event (Steps); Moves counts them.
func (k *Kernel[P]) Move(r Ref, to Time) bool {
	at, ok := k.Due(r)
	if !ok {
		return false
	}
	if to != 0 && to <= at {
		panic(fmt.Sprintf("sim: move of an event due at %v to %v, not later", at, to))
	}
	k.refs[r.slot()].to = to
	return true
}

// Moves is the number of events moved (Move) so far.
func (k *Kernel[P]) Moves() uint64 { return k.moves }

// moved reports whether the event e, just taken off the queue, was to move,
// and if so files it again (Move).
func (k *Kernel[P]) moved(e entry) bool {
	if e.key&keyRef == 0 || k.refs[e.slot()].to == 0 {
		return false
	}
	m := &k.refs[e.slot()]
	k.seq++
	if k.seq > maxSeq {
		panic("sim: more than 2^39 events scheduled in one run")
	}
	m.at, m.to = m.to, 0
	k.moves++
	k.file(entry{at: m.at, key: k.seq<<seqShift | keyRef | uint64(e.slot())})
	return true
}

// delivered forgets the Ref of the event e, now delivered, if it had one.
func (k *Kernel[P]) delivered(e entry) {
	if e.key&keyRef != 0 {
		k.refs[e.slot()] = refMeta{}
	}
}

func (k *Kernel[P]) schedule(at Time, p P, flags uint64) uint32 {
	if at < k.now {
		panic(fmt.Sprintf("sim: event scheduled at %v, before now %v", at, k.now))
	}
	if k.maxHeap > 0 && k.n >= k.maxHeap {
		panic(fmt.Sprintf("sim: event queue limit %d exceeded at %v", k.maxHeap, k.now))
	}
	k.seq++
	if k.seq > maxSeq {
		panic("sim: more than 2^39 events scheduled in one run")
	}
	var slot uint32
	if n := len(k.free); n > 0 {
		slot = k.free[n-1]
		k.free = k.free[:n-1]
		k.slab[slot] = p
	} else {
		if len(k.slab) >= maxSlots {
			panic(fmt.Sprintf("sim: more than %d events pending at %v", maxSlots, k.now))
		}
		slot = uint32(len(k.slab))
		k.slab = append(k.slab, p)
	}
	k.n++
	k.file(entry{at: at, key: k.seq<<seqShift | flags | uint64(slot)})
	return slot
}

// file puts e where it belongs: the current heap, a wheel slot, or the overflow.
func (k *Kernel[P]) file(e entry) {
	sn := int64(e.at) >> slotShift
	switch {
	case sn <= k.cur:
		k.heap = append(k.heap, e)
		up(k.heap, len(k.heap)-1)
	case sn < k.cur+wheelSlots:
		i := sn & wheelMask
		k.wheel[i] = append(k.wheel[i], e)
		k.occ[i>>6] |= 1 << (i & 63)
		k.inWheel++
	default:
		k.over = append(k.over, e)
		up(k.over, len(k.over)-1)
	}
}

// fill makes the current slot non-empty by turning the wheel, if any event is
// queued at all; it reports whether one is.
func (k *Kernel[P]) fill() bool {
	for len(k.heap) == 0 && k.runHead == len(k.run) {
		if k.inWheel == 0 {
			if len(k.over) == 0 {
				return false
			}
			// Nothing on the wheel: jump to just before the overflow's first slot.
			if first := int64(k.over[0].at)>>slotShift - 1; first > k.cur {
				k.cur = first
			}
		} else {
			// Skip the empty slots: everything in the overflow is later than any
			// wheel slot, and it is pulled onto the wheel below.
			k.cur = k.nextOccupied() - 1
		}
		k.cur++
		i := k.cur & wheelMask
		w := &k.wheel[i]
		if len(*w) > 0 {
			// A sorted slot pops in O(1); sorting it at once is cheaper than
			// sifting a heap of it event by event. The slot's slice becomes
			// the run, and the spent run's array the slot's: no copy.
			k.inWheel -= len(*w)
			k.run, *w = *w, k.run[:0]
			k.runHead = 0
			k.occ[i>>6] &^= 1 << (i & 63)
			k.sortRun()
			k.touchRun()
		}
		// The slot cur+wheelSlots-1 has just come onto the wheel.
		for len(k.over) > 0 && int64(k.over[0].at)>>slotShift < k.cur+wheelSlots {
			e := k.over[0]
			popTop(&k.over)
			k.file(e)
		}
	}
	return true
}

// touchRun reads the first byte of every payload of the run just sorted,
// in one loop: the payloads sit at random slab slots, mostly out of cache
// after their wait, and loads that do not depend on one another miss in
// parallel, where a load per event just before its handler would stall
// each event in turn on its own miss (incident-2018: one slot holds ~40
// events).
func (k *Kernel[P]) touchRun() {
	var t byte
	for i := range k.run {
		t += *(*byte)(unsafe.Pointer(&k.slab[k.run[i].slot()]))
	}
	if k.touch != nil {
		// The same for the handlers' state, now that the payloads that
		// name it are in cache.
		for i := range k.run {
			t += k.touch(&k.slab[k.run[i].slot()])
		}
	}
	k.touched += t
}

// SetTouch has the kernel call touch on the payload of every event of a
// wheel slot, in one loop, when the wheel turns to it, before any is
// delivered. touch should read (and only read) what the event's handler will
// read first, and return any byte of it: a model's state for a payload
// (a client's, a stream's) is mostly out of cache by the time the event is
// due, and these reads miss in parallel instead of each event stalling on
// its own. It must not change anything: it runs at no particular moment of
// the simulation.
func (k *Kernel[P]) SetTouch(touch func(p *P) byte) { k.touch = touch }

// nextOccupied is the first slot number after cur whose wheel slot holds
// events; there must be one.
func (k *Kernel[P]) nextOccupied() int64 {
	start := k.cur + 1
	for off := int64(0); off < wheelSlots; {
		i := (start + off) & wheelMask
		if w := k.occ[i>>6] >> (i & 63); w != 0 {
			return start + off + int64(bits.TrailingZeros64(w))
		}
		off += 64 - (i & 63)
	}
	panic("sim: wheel count and occupancy disagree")
}

// Peek returns the time of the next event, and false if there is none. An
// event to be moved (Move) counts: its time is when it moves.
func (k *Kernel[P]) Peek() (Time, bool) {
	if !k.fill() {
		return 0, false
	}
	return k.head().at, true
}

// head is the next event; fill must have reported one.
func (k *Kernel[P]) head() *entry {
	if k.runHead == len(k.run) {
		return &k.heap[0]
	}
	if len(k.heap) > 0 && k.heap[0].before(&k.run[k.runHead]) {
		return &k.heap[0]
	}
	return &k.run[k.runHead]
}

// pop removes the next event; fill must have reported one.
func (k *Kernel[P]) pop() entry {
	if k.runHead < len(k.run) && (len(k.heap) == 0 || !k.heap[0].before(&k.run[k.runHead])) {
		e := k.run[k.runHead]
		k.runHead++
		return e
	}
	e := k.heap[0]
	popTop(&k.heap)
	return e
}

// sortRun sorts the slot just taken off the wheel into (at, seq) order. A
// wheel slot's events are in seq order already (direct schedules come after
// the ones pulled from the overflow, which come in (at, seq) order), so a
// stable sort on the time within the slot (17 bits) is enough: an insertion
// sort for a few events, else two stable counting passes of 9 and 8 bits.
func (k *Kernel[P]) sortRun() {
	r := k.run
	if len(r) <= 48 {
		for i := 1; i < len(r); i++ {
			e := r[i]
			j := i
			for j > 0 && r[j-1].at > e.at {
				r[j] = r[j-1]
				j--
			}
			r[j] = e
		}
		return
	}
	base := r[0].at >> slotShift << slotShift
	k.scratch = slices.Grow(k.scratch[:0], len(r))[:len(r)]
	countingPass(r, k.scratch, base, 0, 9)
	countingPass(k.scratch, r, base, 9, 8)
}

// countingPass stably sorts src into dst by bits [shift, shift+width) of
// the time within the slot.
func countingPass(src, dst []entry, base Time, shift, width uint) {
	var count [1 << 9]int
	mask := Time(1)<<width - 1
	for i := range src {
		count[(src[i].at-base)>>shift&mask]++
	}
	pos := 0
	for b := range count[:1<<width] {
		c := count[b]
		count[b] = pos
		pos += c
	}
	for i := range src {
		b := (src[i].at - base) >> shift & mask
		dst[count[b]] = src[i]
		count[b]++
	}
}

// Step removes the next event, advances the clock to its time and returns it.
// It returns false when the queue is empty.
func (k *Kernel[P]) Step() (Time, P, bool) {
	var zero P
	var top entry
	for {
		if !k.fill() {
			return k.now, zero, false
		}
		top = k.pop()
		k.now = top.at
		if !k.moved(top) {
			break
		}
	}
	k.n--
	slot := top.slot()
	k.delivered(top)
	p := k.slab[slot]
	if k.clearSlots {
		k.slab[slot] = zero // drop references held by the payload
	}
	k.free = append(k.free, slot)
	k.now = top.at
	k.steps++
	return top.at, p, true
}

// RunUntil delivers, in order, every event due strictly before end to handle, then
// sets the clock to end. Events that handle schedules are delivered too if they
// fall before end. It returns ErrEventLimit if the step budget runs out.
//
// handle gets the payload in place, not a copy: p is valid only until handle
// returns (its slot is reused after that).
func (k *Kernel[P]) RunUntil(end Time, handle func(now Time, p *P)) error {
	for k.fill() && k.head().at < end {
		if k.limit > 0 && k.steps >= k.limit {
			return ErrEventLimit
		}
		top := k.pop()
		k.now = top.at
		if k.moved(top) {
			continue
		}
		slot := top.slot()
		k.n--
		k.steps++
		if k.runHead < len(k.run) {
			// Touch the next payload now, so that its cache miss overlaps
			// this event's handling instead of stalling the next pop
			// (-4 % wall time on incident-2018-ttl600).
			k.touched += *(*byte)(unsafe.Pointer(&k.slab[k.run[k.runHead].slot()]))
		}
		handle(top.at, &k.slab[slot])
		k.delivered(top)
		if k.clearSlots {
			var zero P
			k.slab[slot] = zero // drop references held by the payload
		}
		k.free = append(k.free, slot)
	}
	if end > k.now {
		k.now = end
	}
	return nil
}

func popTop(h *[]entry) {
	s := *h
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	if last > 0 {
		down(*h, 0)
	}
}

func up(h []entry, i int) {
	e := h[i]
	for i > 0 {
		parent := (i - 1) / 4
		if !e.before(&h[parent]) {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = e
}

func down(h []entry, i int) {
	n := len(h)
	e := h[i]
	for {
		first := 4*i + 1
		if first >= n {
			break
		}
		best := first
		end := first + 4
		if end > n {
			end = n
		}
		for c := first + 1; c < end; c++ {
			if h[c].before(&h[best]) {
				best = c
			}
		}
		if !h[best].before(&e) {
			break
		}
		h[i] = h[best]
		i = best
	}
	h[i] = e
}

// RunContext is RunUntil(end, handle) a second of virtual time at a time,
// checking ctx between seconds, so that a long run stops, with ctx's error,
// soon after ctx ends. An exhausted step budget is ErrEventLimit, wrapped
// with the step count and the virtual time it was reached at.
func (k *Kernel[P]) RunContext(ctx context.Context, end Time, handle func(now Time, p *P)) error {
	for k.now < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.RunUntil(min(k.now+Time(time.Second), end), handle); err != nil {
			return fmt.Errorf("after %d events at %v of virtual time: %w", k.steps, k.now, err)
		}
	}
	return nil
}
