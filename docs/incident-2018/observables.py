#!/usr/bin/env python3
"""The 2018 report's observables, read from leasesim runs' --csv output.

usage: observables.py CORES TLS_FACTOR FROM_S RUNDIR... (each RUNDIR holds the
metrics.csv that `leasesim run ... --csv RUNDIR` wrote; 1 s buckets, 7 members)

Prints each figure's min-max over the runs. "window" is t_s >= FROM_S to the
end; "per follower" divides the leader's socket counts by the 6 followers;
the leader is the member leading in each second (with --raft), else member 0.
The handshake share of the leader's CPU charges each finished handshake the
leader's server cost, 955 us x TLS_FACTOR + 10 us accept (spec/costs.go).
"""
import csv
import os
import sys


def figures(d, cores, tls_factor, frm):
    rows = list(csv.DictReader(open(os.path.join(d, "metrics.csv"))))
    n = len(rows)

    def col(name):
        return [float(r[name]) if r.get(name) not in (None, "") else 0.0 for r in rows]

    if "leader_cpu_utilisation_count" in rows[0]:
        cpu = col("leader_cpu_utilisation_count")
    else:
        cpu = col("cpu_utilisation_m0_ratio")
    hs, nc = col("tls_handshakes_per_s"), col("new_peer_connections_per_s")
    twl, est, cw = col("time_wait_leader_sockets"), col("peer_established_sockets"), col("close_wait_leader_sockets")
    mem, fw, kl = col("leader_queue_bytes"), col("forwarded_renewals_per_s"), col("keys_lost_per_s")
    w = range(frm, n)

    def mean(xs):
        return sum(xs[i] for i in w) / len(w)

    def wmax(xs):
        return max(xs[i] for i in w)

    minutes = range(0, n - 59, 60)
    hcost = 955e-6 * tls_factor + 10e-6
    held = [(est[i] + cw[i]) / 6 for i in range(n)]
    lost = [i for i in range(n) if kl[i] > 0]
    return {
        "leader CPU %, window mean": 100 * mean(cpu),
        "leader CPU %, busiest minute": 100 * max(sum(cpu[a:a + 60]) / 60 for a in minutes),
        "leader cores busy, window mean": cores * mean(cpu),
        "sockets held per follower (ESTABLISHED+CLOSE-WAIT)/6, window mean": mean(held),
        "sockets held per follower, window max": wmax(held),
        "sockets held per follower, run max": max(held),
        "ESTABLISHED per follower, window mean": mean(est) / 6,
        "TIME-WAIT on the leader per follower, window mean": mean(twl) / 6,
        "TIME-WAIT on the leader per follower, run max": max(twl) / 6,
        "CLOSE-WAIT on the leader, window max": wmax(cw),
        "CLOSE-WAIT on the leader, run max": max(cw),
        "leader memory MiB, window mean": mean(mem) / 2**20,
        "leader memory MiB, run max": max(mem) / 2**20,
        "leader memory MiB, last second": mem[-1] / 2**20,
        "keys lost, run": sum(kl),
        "keys lost, window": sum(kl[i] for i in w),
        "first key lost, s": lost[0] if lost else -1,
        "last key lost, s": lost[-1] if lost else -1,
        "handshake % of leader CPU, window": 100 * sum(hs[i] for i in w) * hcost / max(1e-9, cores * sum(cpu[i] for i in w)),
        "handshake % of leader CPU, busiest minute": 100 * max(sum(hs[a:a + 60]) * hcost / max(1e-9, cores * sum(cpu[a:a + 60])) for a in minutes),
        "forwarded renewals/s, window mean": mean(fw),
        "new peer connections/s, window mean": mean(nc),
        "new peer connections/s, run max": max(nc),
        "seconds with > 10 new connections, window": sum(1 for i in w if nc[i] > 10),
        "last second with > 10 new connections": max([i for i in range(n) if nc[i] > 10], default=-1),
    }


def main():
    cores, tls_factor, frm = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    runs = [figures(d, cores, tls_factor, frm) for d in sys.argv[4:]]
    for k in runs[0]:
        v = [r[k] for r in runs]
        print(f"{k:66s} {min(v):10.1f} - {max(v):10.1f}   " + " ".join(f"{x:.1f}" for x in v))


if __name__ == "__main__":
    main()
