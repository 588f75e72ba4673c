package scripted

// The scan/response tie (issue 11, item 6). When a keepalive response lands at
// exactly the instant of a 500 ms scan, two goroutines of the real lessor wake
// at once and race for l.mu: sendKeepAliveLoop, whose time.After fired
// (go.etcd.io/etcd/client/v3 v3.7.3 lease.go:610, then 590-593 read
// nextKeepAlive), and recvKeepAliveLoop, whose stream.Recv returned (lease.go:472,
// then recvKeepAlive 526, 542-556 move nextKeepAlive); coreos/etcd
// clientv3/lease.go: v3.3.9 572 then 554-557 against 444 then 499-523, v3.3.8
// 568 then 550-553 against 441 then 496-517. If the scan
// takes the lock first it still sees the lease due and sends one more request.
// Who wins is up to the Go scheduler; clientmodel.Version.Tie is the model's
// choice, and these helpers measure the real libraries' odds.

// TieReplyNs is TieCase's server delay: exactly one scan period, so every
// reply lands on the scan grid of the stream that sent the request.
const TieReplyNs = 500_000_000

// TieCase is the script on which the odds are measured: one lease, TTL 29 s,
// a drain consumer, every reply after exactly 500 ms, 2 h (the case).
// Its connect delay (1 ms + 50 ns) keeps the scans off the 1 s deadline ticks,
// so the only ties are scan/response ones. Each renewal is one tie: the
// request due at scan S is answered at S+500 ms, on the next scan. If the
// response wins, the lease is next due at S+500 ms+TTL/3 and renews at the
// scan S+10.5 s: 686 requests in 2 h. If the scan wins, it sends again at
// S+500 ms; that answer, at S+1 s (a second tie, but the lease is no longer
// due then), moves nextKeepAlive once more, so the next renewal is at S+11 s:
// 2 requests per 11 s, 1,310 in 2 h when the scan wins every tie.
func TieCase() Script {
	return Script{Name: "tie-ttl29-drain-reply500ms", DurationNs: 7200e9, Leases: []Lease{{
		ID: 1, TTLs: 29, ConnectDelayNs: 1e6 + 50, DelaysNs: []int64{TieReplyNs},
		Consumer: Consumer{Kind: ConsumerDrain},
	}}}
}

// TieCount is what CountTies found in one or more results of TieCase.
type TieCount struct {
	Ties      int `json:"ties"`       // renewals whose reply landed on a scan before the end
	ScanFirst int `json:"scan_first"` // of them, those where the scan sent again (it won the race)
}

// CountTies counts the ties of a result of TieCase: a renewal is a request
// not made 500 ms after another one; it is a tie if its reply (500 ms later)
// came before the end; the scan won it if a request went out at that instant.
func CountTies(s Script, r Result) TieCount {
	var c TieCount
	req := Expand(r.Leases[0].Requests)
	at := make(map[int64]bool, len(req))
	for _, q := range req {
		at[q] = true
	}
	for _, q := range req {
		if at[q-TieReplyNs] || q+TieReplyNs >= s.DurationNs {
			continue
		}
		c.Ties++
		if at[q+TieReplyNs] {
			c.ScanFirst++
		}
	}
	return c
}

// TieOdds is a saved measurement (testdata/tie-odds-<version>.json): Runs
// runs of Script on the real library, their request counts, and the ties.
type TieOdds struct {
	Version  string `json:"version"`
	Script   string `json:"script"`
	Runs     int    `json:"runs"`
	Requests []int  `json:"requests"` // per run
	TieCount
}
