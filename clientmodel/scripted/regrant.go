package scripted

// RegrantCases are hand-written scripts of a process that re-grants after
// its channel closed (Lease.Regrants), one per way the old lease can have
// gone and the state the lessor's stream is in when the new KeepAlive comes.
// Each process connects 1 ms + 50 ns after its KeepAlive at 0, so its first
// stream scans at 0.001000050 s + k x 500 ms.
func RegrantCases() []Script {
	drain := Consumer{Kind: ConsumerDrain}
	return []Script{
		{
			// Lease 1 is answered at once, TTL 6 s: requests at 1.00005 ms and
			// 2.50100005 s; the second is answered TTL 0, which closes the
			// channel at 2.501001051 s. The agent re-grants 1.2 s later, at
			// 3.701001064 s, with the stream up: lease 2 is sent at the next
			// scan, 4.00100005 s, not at once.
			Name: "regrant-revoked-stream-up", DurationNs: 60 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 6, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001}, RevokeAt: 2, Consumer: drain,
				Regrants: []Regrant{
					{ID: 2, AfterNs: 1200*ms + 13, TTLs: 6, DelaysNs: []int64{1001}, RevokeAt: 3},
					{ID: 3, AfterNs: 13, TTLs: 9, DelaysNs: []int64{20*ms + 1001}},
				},
			}},
		},
		{
			// Lease 1's first request is answered at once (TTL 3 s), its
			// second after 30 s: the lessor sends it again on every scan while
			// the serial server is stuck, and deadlineLoop gives it up at the
			// first tick after its deadline (3.001001051 s): 4 s. The agent
			// re-grants 2 ms later; lease 2's requests queue behind lease 1's
			// on the stuck server, so it is given up too, at 10 s. Lease 3
			// comes 2 ms after that and is sent, unanswered, on the next
			// scans; the server resets the stream at 12.0000001 s, dropping
			// all it owed, and lease 3 goes out again as the new stream opens
			// at 12.5000001 s, to be answered. Lease 1's late answers
			// would be for a lease the lessor no longer has (lease.go:529-532).
			Name: "regrant-deadline-closed", DurationNs: 120 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 3, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001, 30*sec + 1001, 1001}, Consumer: drain,
				ResetsNs: []int64{12_000*ms + 100},
				Regrants: []Regrant{
					{ID: 2, AfterNs: 2*ms + 13, TTLs: 12, DelaysNs: []int64{1001}},
					{ID: 3, AfterNs: 2*ms + 13, TTLs: 12, DelaysNs: []int64{1001}},
				},
			}},
		},
		{
			// Like the first, but the server resets the stream at 2.6000001 s,
			// after lease 1 was revoked (2.501001051 s) and before the agent
			// re-grants (2.801001064 s): the lessor is in its 500 ms retry
			// wait, and lease 2 goes out as the new stream opens and scans at
			// 3.1000001 s. Lease 3 comes while the stream is up again, lease 4
			// after a reset with no lease at all.
			Name: "regrant-in-retry-wait", DurationNs: 90 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 6, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001}, RevokeAt: 2, Consumer: drain,
				ResetsNs: []int64{2600*ms + 100, 20_000*ms + 200},
				Regrants: []Regrant{
					{ID: 2, AfterNs: 300*ms + 13, TTLs: 6, DelaysNs: []int64{1001}, RevokeAt: 2},
					{ID: 3, AfterNs: 700*ms + 13, TTLs: 6, DelaysNs: []int64{1001}, RevokeAt: 2},
					{ID: 4, AfterNs: 15_000*ms + 13, TTLs: 30, DelaysNs: []int64{1001}},
				},
			}},
		},
		{
			// Lease 1 (TTL 30 s) is cancelled by the application at
			// 12.000000017 s, while its second request (10.50100005 s, 2 s
			// to answer) is still being answered and two more sent on the
			// scans meanwhile wait behind it: their answers, from 12.501001051
			// s to 14.501003053 s, find no keepalive for its ID. Lease 2 comes
			// 300 ms after the close and goes out at the next scan,
			// 12.50100005 s, and on every scan until the serial server gets
			// to it at 14.5 s; it is cancelled in turn, 5 s in, and lease 3
			// follows.
			Name: "regrant-cancelled", DurationNs: 60 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 30, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001, 2*sec + 1001}, Consumer: drain,
				CancelAfterNs: 12*sec + 17,
				Regrants: []Regrant{
					{ID: 2, AfterNs: 300*ms + 13, TTLs: 3, DelaysNs: []int64{1001}, CancelAfterNs: 5*sec + 17},
					{ID: 3, AfterNs: 13, TTLs: 6, DelaysNs: []int64{1001}},
				},
			}},
		},
		{
			// A rate consumer sees the revocation at its tick (process grid,
			// 7 ns + k x 700 ms) and reads lease 2's channel on the same grid.
			Name: "regrant-rate-consumer", DurationNs: 60 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 3, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001}, RevokeAt: 4,
				Consumer: Consumer{Kind: ConsumerRate, PeriodNs: 700 * ms, PhaseNs: 7},
				Regrants: []Regrant{{ID: 2, AfterNs: 40*ms + 13, TTLs: 3, DelaysNs: []int64{1001}}},
			}},
		},
	}
}

// RegrantCorpus is the re-granting processes' corpus
// (testdata/scripts-regrant.json, on which the legacy goldens
// golden-regrant-<version>.json are recorded): RegrantCases, then n scripts
// drawn from GenRegrant with fixed seeds 0..n-1, named regrant-NN.
func RegrantCorpus(n int) []Script { return drawnCorpus(RegrantCases(), GenRegrant(), "regrant", n) }
