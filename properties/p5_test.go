package properties

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// p5Machine is the state of P5's stateful test: a cluster driven action by
// action, and what the test knows each client was told to do.
type p5Machine struct {
	sim     *scenario.Sim
	ttl     time.Duration
	members int
	clients int
	added   []bool
	addedAt []time.Duration
	cancel  []time.Duration // when cancelled, or -1
	// shield: until then a lease may have expired for a reason the invariant
	// allows (a partition of its member longer than its TTL allows).
	shield []time.Duration
	member []int
	cuts   [][2]time.Duration // partitions: member, [start, end) per entry of cutOf
	cutOf  []int
}

const (
	p5Clients  = 60
	p5Members  = 3
	p5Duration = 30 * time.Minute
)

// P5: a stateful test (rapid's t.Repeat). Actions add and cancel clients,
// stop and resume reading, change the leader (elections shorter than the
// election timeout), partition a follower for less than the TTL allows, and
// advance time. After every action:
//   - the wiring's bookkeeping holds (Sim.CheckInvariants);
//   - no lease of a client that was added and not cancelled has expired —
//     fixed clients, ample capacity, whatever the consumer does;
//   - a cancelled client's lease expires within TTL + 1 s (the revoke pass)
//     plus any election in between, and never before its TTL ran out.
func TestP5Stateful(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ttl := time.Duration(rapid.SampledFrom([]int{10, 20, 60}).Draw(t, "ttl_s")) * time.Second
		c := spec.Spec{
			Name: "p5", Seed: rapid.Uint64Range(1, 1<<20).Draw(t, "seed"), Duration: spec.Duration(p5Duration),
			Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: p5Clients, TTL: spec.Duration(ttl),
				Version: rapid.SampledFrom(FixedVersions).Draw(t, "version"), Consumer: "drain"},
			Cluster: spec.ClusterSpec{Members: p5Members, Cores: 2,
				Transport: rapid.SampledFrom([]string{"http1", "http2"}).Draw(t, "transport")},
		}
		r, err := c.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		sm, err := scenario.StartCluster(*r.Cluster, scenario.Options{Deferred: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := &p5Machine{sim: sm, ttl: ttl, members: p5Members, clients: p5Clients,
			added: make([]bool, p5Clients), addedAt: make([]time.Duration, p5Clients),
			cancel: make([]time.Duration, p5Clients), shield: make([]time.Duration, p5Clients),
			member: make([]int, p5Clients)}
		for i := range m.cancel {
			m.cancel[i] = -1
			m.member[i] = i % p5Members // round-robin placement
		}
		// Start with a population running for a minute, so that every action
		// meets renewals, channels filling up and pooled connections.
		initial := rapid.IntRange(1, p5Clients).Draw(t, "initial_clients")
		for i := 0; i < initial; i++ {
			m.added[i] = true
			sm.ClientInput(i, clientmodel.Input{Kind: clientmodel.InKeepAlive})
		}
		if err := sm.Advance(time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Repeat(map[string]func(*rapid.T){
			"add": func(t *rapid.T) {
				i := rapid.IntRange(0, p5Clients-1).Draw(t, "client")
				if m.added[i] {
					t.Skip("already added")
				}
				m.added[i], m.addedAt[i] = true, sm.Now()
				sm.ClientInput(i, clientmodel.Input{Kind: clientmodel.InKeepAlive})
			},
			"cancel": func(t *rapid.T) {
				i := rapid.IntRange(0, p5Clients-1).Draw(t, "client")
				if !m.added[i] || m.cancel[i] >= 0 || sm.Now() == m.addedAt[i] || !sm.Active(i) {
					t.Skip("not running")
				}
				m.cancel[i] = sm.Now()
				sm.ClientInput(i, clientmodel.Input{Kind: clientmodel.InCancel})
			},
			"reading": func(t *rapid.T) {
				i := rapid.IntRange(0, p5Clients-1).Draw(t, "client")
				consumer := clientmodel.Never
				if rapid.Bool().Draw(t, "read") {
					consumer = clientmodel.Drain
				}
				sm.ClientInput(i, clientmodel.Input{Kind: clientmodel.InConsumer, Consumer: consumer})
			},
			"leader-change": func(t *rapid.T) {
				if sm.Leader() < 0 {
					t.Skip("election in progress")
				}
				to := rapid.IntRange(0, p5Members-1).Draw(t, "to")
				if to == sm.Leader() {
					t.Skip("already the leader")
				}
				for k, c := range m.cuts {
					if m.cutOf[k] == to && c[1] > sm.Now() {
						t.Skip("a partitioned member cannot win an election")
					}
				}
				election := time.Duration(rapid.IntRange(1, 999).Draw(t, "election_ms")) * time.Millisecond
				sm.LeaderChange(to, election)
				for i := range m.shield {
					m.shield[i] = max(m.shield[i], sm.Now()+election)
				}
			},
			"partition": func(t *rapid.T) {
				f := rapid.IntRange(0, p5Members-1).Draw(t, "member")
				if f == sm.Leader() || sm.Leader() < 0 {
					t.Skip("partitions cut off followers")
				}
				// Short enough that a renewal still lands within the TTL: TCP
				// delivers the delayed request when the partition heals.
				d := time.Duration(rapid.IntRange(1, int(m.ttl/time.Second)/3).Draw(t, "partition_s")) * time.Second
				sm.Partition(f, d)
				m.cuts = append(m.cuts, [2]time.Duration{sm.Now(), sm.Now() + d})
				m.cutOf = append(m.cutOf, f)
				for i := range m.shield {
					if m.member[i] == f {
						m.shield[i] = max(m.shield[i], sm.Now()+d)
					}
				}
			},
			"advance": func(t *rapid.T) {
				d := time.Duration(rapid.IntRange(1, 120).Draw(t, "advance_s")) * time.Second
				if sm.Now()+d > p5Duration {
					t.Skip("past the end")
				}
				if err := sm.Advance(d); err != nil {
					t.Fatal(err)
				}
			},
			"": func(t *rapid.T) { m.check(t) },
		})
	})
}

func (m *p5Machine) check(t *rapid.T) {
	if err := m.sim.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	now := m.sim.Now()
	for i := 0; i < m.clients; i++ {
		if !m.added[i] || now == m.addedAt[i] {
			continue // not yet granted
		}
		alive, _ := m.sim.Read(i, recorder.OpGet) // its key: there while its lease lives
		if m.cancel[i] < 0 && !m.sim.Active(i) {
			// The client gave up on its own: only a partition of its member
			// over its first keepalive can do that here (no answer within the
			// 5 s first-keepalive deadline, clientv3 lease.go:81, 296).
			if !m.cutEarly(i) {
				t.Fatalf("client %d (added at %v, member %d) closed its keepalive by itself by %v", i, m.addedAt[i], m.member[i], now)
			}
			continue
		}
		switch {
		case m.cancel[i] < 0 && !alive:
			t.Fatalf("client %d (added at %v, member %d, never cancelled) lost its lease by %v", i, m.addedAt[i], m.member[i], now)
		case m.cancel[i] >= 0:
			// The lease was renewed at most once more after the cancel (a request
			// in flight, perhaps delayed by a partition), or extended by a new
			// leader's Promote (election timeout 1 s + TTL); it expires within
			// that plus one revoke pass (500 ms) and the forwarding latency.
			latest := max(m.cancel[i], m.shield[i]) + m.ttl + time.Second + time.Second
			if alive && now > latest {
				t.Fatalf("client %d cancelled at %v: lease still alive at %v (latest %v)", i, m.cancel[i], now, latest)
			}
			// Gone early is fine only if a partition of its member, in the TTL
			// before the cancel or since, held up its last renewals (a request
			// delayed past ReqTimeout is lost with its stream).
			if !alive && now < m.cancel[i]+m.ttl-2*time.Second-m.ttl/3 && !m.cutSince(i, m.cancel[i]-m.ttl) {
				t.Fatalf("client %d cancelled at %v: lease gone already at %v, before its TTL ran out", i, m.cancel[i], now)
			}
		}
	}
}

// cutEarly reports whether client i's member was partitioned around its first
// keepalive's deadline.
func (m *p5Machine) cutEarly(i int) bool {
	for k, c := range m.cuts {
		if m.cutOf[k] == m.member[i] && c[0] <= m.addedAt[i]+6*time.Second && c[1] >= m.addedAt[i]+4*time.Second {
			return true
		}
	}
	return false
}

// cutSince reports whether client i's member was partitioned at any time
// from since on.
func (m *p5Machine) cutSince(i int, since time.Duration) bool {
	for k, c := range m.cuts {
		if m.cutOf[k] == m.member[i] && c[1] > since {
			return true
		}
	}
	return false
}
