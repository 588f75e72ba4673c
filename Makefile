# leasesim — build, test and benchmark targets. `make help` lists them.
GO ?= go
LEGACY := clientmodel/legacy
CHECKS ?= 5000
# Time per fuzz target: 3 targets x 200s = 10 minutes.
FUZZTIME ?= 200s
# Minimizing a new input reruns it many times; go test's default (60s) stalls
# a short session on the loader's slower inputs (a run of 5 s virtual time).
FUZZMINIMIZETIME ?= 5s

.PHONY: help build run test test-main test-legacy bench bench-incident lint check-long fuzz legacy-goldens corpus calibrate measure fast-corpus

help:
	@echo "make run          the main job: the 2018 incident's clients, with the fixed client as a what-if"
	@echo "make test         every test: main module + the legacy (v3.3.8 / v3.3.9) module  [README's test command]"
	@echo "make bench        kernel (beside a binary heap), TLS-cost and scenario benchmarks: events/s, ns and events per keepalive, wall time, peak RSS (~15 min)"
	@echo "make bench-incident  incident-2018-ttl600, 2 h of virtual time: wall time and peak memory"
	@echo "make lint         gofmt + go vet, both modules"
	@echo "make check-long   the differential test, the properties and 'leasesim check' with CHECKS=$(CHECKS)"
	@echo "make fuzz         each fuzz target for FUZZTIME=$(FUZZTIME): the scenario loader and the flags (each accepted"
	@echo "                  input is run for 5 s of virtual time), and the consumer syntax ('make test' runs their seeds only)"
	@echo "make corpus       regenerate clientmodel/scripted/testdata/scripts.json and scripts-pace.json, then legacy-goldens"
	@echo "make legacy-goldens  re-record golden traces from the real v3.3.8 and v3.3.9 libraries"
	@echo "make fast-corpus  ~5 min: the fast mode against the exact mode over package fidelity's corpus (65 scenarios),"
	@echo "                  beside the exact mode's own seed noise (each scenario again with the next seed);"
	@echo "                  per-metric errors, verdicts and speed-up in bin/fast-corpus.md and bin/fast-corpus.json"
	@echo "make calibrate    ~20 min: real etcd 3.7.3 cluster, 50/500 clients x TTL 5/30/60s x leader/followers/spread;"
	@echo "                  refits spec/params/default.yaml and prints measured vs leasesim (bin/calibration.txt)"
	@echo "make measure WHAT=promote|demote|event-lease|event-lease-readbuf|event-lease-cpu|idle-close|idle-close-cluster|gc|spread|heartbeat|sched|readindex|storm|storm-hiccups|storm-hiccups-busy|storm-hiccups-gcoff|storm-hiccups-gogc400|storm-hiccups-gogc100|storm-hiccups-busy-gogc400|storm-hiccups-busy-nice19|storm-hiccups-agent-gogc400|storm-hiccups-busy-procs1|storm-onset-trace-busy-procs1|storm-onset-trace-busy|storm-onset-trace-quiet|host-speed|thread-slices|prober-phase|prober-rtt"
	@echo "                  re-measure one real-system figure the model replays (saved under calibrate/testdata; 1-12 min;"
	@echo "                  storm: the issue's storm experiment on a real cluster, quiet and with one busy core, ~40 min;"
	@echo "                  storm-hiccups: the members' GC and scheduler latency and the agent's send timing at 1,000/s, ~5 min;"
	@echo "                  storm-hiccups-busy: the same at 800/s with one core busy, ~6 min)"

# The commit is stamped by -ldflags too, for builds where the toolchain does
# not stamp VCS information (GOFLAGS=-buildvcs=false, a worktree, a tarball).
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o bin/leasesim ./cmd/leasesim

run:
	$(GO) run ./cmd/leasesim run --scenario incident-2018 --what-if client-version=v3.7.3

test: test-main test-legacy

# The property tests (rapid) draw from RAPID_SEED: fixed for `make test`, so
# that a run is the same run everywhere (CI included); RAPID_SEED=0 draws a
# new seed each run, as `make check-long` does, to explore.
RAPID_SEED ?= 1
export RAPID_SEED

test-main:
	$(GO) test -count=1 ./...

# The legacy module is tested twice from the same source: with coreos/etcd
# v3.3.8 (go.mod) and v3.3.9 (go.v339.mod).
test-legacy:
	cd $(LEGACY) && $(GO) test -count=1 ./...
	cd $(LEGACY) && $(GO) test -count=1 -modfile=go.v339.mod ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sim ./netsim
	$(GO) test -run '^$$' -bench 'IncidentPerClient' -benchmem ./scenario
	$(GO) test -run '^$$' -bench 'Incident2018TTL600|MillionFixedClients' -benchtime 1x -timeout 60m ./scenario

bench-incident:
	$(GO) test -c -o bin/scenario.test ./scenario
	/usr/bin/time -v bin/scenario.test -test.run '^$$' -test.bench 'Incident2018TTL600' -test.benchtime 1x 2>&1 | \
	  grep -E 'Benchmark|events/s|Elapsed|Maximum resident'

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd $(LEGACY) && $(GO) vet ./... && $(GO) vet -modfile=go.v339.mod ./...
	cd $(ETCD34) && $(GO) vet ./...

check-long:
	RAPID_SEED=0 $(GO) test -count=1 -run 'TestModelMatchesRealClient|TestRegrantMatchesRealClient|TestOthersMatchRealClient' ./clientmodel/scripted -rapid.checks=$(CHECKS) -timeout 60m
	RAPID_SEED=0 $(GO) test -count=1 ./properties -rapid.checks=$(CHECKS) -timeout 60m
	$(GO) run ./cmd/leasesim check -n $(CHECKS)

# Each target alone (go test -fuzz takes one target of one package). New
# interesting inputs go to the Go build cache's fuzz corpus; a failing input
# is written to the package's testdata/fuzz/ and becomes a seed for 'make test'.
fuzz:
	$(GO) test ./scenario -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./scenario -run '^$$' -fuzz '^FuzzFlags$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./spec -run '^$$' -fuzz '^FuzzParseConsumer$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)

corpus:
	$(GO) test -count=1 -run 'CorpusIsCurrent' ./clientmodel/scripted -update
	$(MAKE) legacy-goldens

legacy-goldens:
	cd $(LEGACY) && $(GO) test -count=1 -run Golden ./... -update
	cd $(LEGACY) && $(GO) test -count=1 -run Golden -modfile=go.v339.mod ./... -update

# The full calibration: measure (bin/calibration.json keeps the raw
# measurements), then fit and compare from them. Re-run only the second step
# to try a model change on the same data:
#   bin/leasesim calibrate --from bin/calibration.json --params default
calibrate: build
	bin/leasesim calibrate --set full --json > bin/calibration.json
	bin/leasesim calibrate --from bin/calibration.json --fit spec/params/default.yaml | tee bin/calibration.txt

# One real-system measurement the model replays (each TestMeasure* skips
# unless LEASESIM_MEASURE names it): promote (the v3.7.3 lessor's Promote),
# idle-close (a pooled peer connection's idle close; idle-close-cluster on a
# real cluster, six minutes), gc (Go's collector),
# spread (a forwarded renewal's round-trip spread), heartbeat (raft's), sched
# (Go's wake-up delay for timer- and network-woken goroutines under load),
# event-lease (a lease with 1,000-300,000 keys on the v3.7.3 code: the
# pre-fix put walk, Revoke, and a 1-member server's CPU per event write),
# readindex (the CPU of one linearizable read's ReadIndex round on a real
# cluster's leader and followers, about twelve minutes), storm (the issue's
# storm experiment: open-loop renewals on the followers at 1,000-4,000/s on a
# quiet host and 400-1,600/s with one core busy, 3 repeats, ~40 min; it holds
# /tmp/leasesim-measuring while it runs, storm-smoke one short run),
# storm-hiccups (where the calm seconds' RTT hiccups come from: the storm
# load at 1,000/s, 3 runs of 40 s, with the members' and the agent's Go
# runtime/metrics and the agent's send lateness, ~5 min, holding the same
# lock; storm-hiccups-busy the same at 800/s with one core busy;
# storm-hiccups-smoke one short run; storm-hiccups-rederive recomputes
# the saved file's derived figures from its series, no cluster), host-speed
# (how much slower a thread runs while the busy loop holds the other vCPU:
# fixed workloads in process CPU time, alone and busy, 8 alternating repeats,
# about a minute, holding the same lock), storm-onset-trace-busy-procs1 and
# storm-onset-trace-busy (the members' Go execution trace around the busy
# machine's storm onsets, 5 ms steps: what the Ps ran and who waited; 3
# runs, ~5 min; LEASESIM_ONSET_TRACE_KEEP=DIR keeps the raw traces),
# storm-onset-trace-quiet (the same on the quiet host at 1,500/s),
# prober-rtt (the storm set's calm levels again, every send's round trip
# profiled against rafthttp's prober bursts read from /proc/net/snmp every
# millisecond: 6 runs, ~10 min, holding the same lock).
# On etcd v3.4.13's code (the module calibrate/etcd34: etcd 3.4 needs gRPC
# 1.26): event-lease-readbuf (a read txn's copy of the backend's read buffer
# before and after a lease of 1,000-100,000 keys is revoked, ~4 min),
# event-lease-cpu (a 1-member v3.4.13 server's CPU per event write with
# leases unbounded or capped at 1,000 keys, with and without a prefix
# watcher: 4 configurations x 3 repeats x ~3 min, ~40 min).
WHAT ?=
ETCD34 := calibrate/etcd34
measure:
	@test -n "$(WHAT)" || { echo "make measure: set WHAT=promote|demote|event-lease|event-lease-readbuf|event-lease-cpu|idle-close|idle-close-cluster|gc|spread|heartbeat|sched|readindex|storm|storm-hiccups|storm-hiccups-busy|storm-hiccups-gcoff|storm-hiccups-gogc400|storm-hiccups-gogc100|storm-hiccups-busy-gogc400|storm-hiccups-busy-nice19|storm-hiccups-agent-gogc400|storm-hiccups-busy-procs1|storm-onset-trace-busy-procs1|storm-onset-trace-busy|storm-onset-trace-quiet|host-speed|thread-slices|prober-phase|prober-rtt"; exit 2; }
	@case "$(WHAT)" in \
	  event-lease-readbuf|event-lease-cpu) cd $(ETCD34) && LEASESIM_MEASURE=$(WHAT) $(GO) test -count=1 -timeout 60m -run 'TestMeasure' -v . ;; \
	  storm-hiccups|storm-hiccups-busy|storm-hiccups-gcoff|storm-hiccups-gogc400|storm-hiccups-gogc100|storm-hiccups-busy-gogc400|storm-hiccups-busy-nice19|storm-hiccups-agent-gogc400|storm-hiccups-busy-procs1|storm-hiccups-smoke|storm-hiccups-rederive) LEASESIM_MEASURE=$(WHAT) $(GO) test -count=1 -timeout 15m -run 'TestMeasureStormHiccups' -v ./calibrate ;; \
	  storm|storm-smoke) LEASESIM_MEASURE=$(WHAT) $(GO) test -count=1 -timeout 75m -run 'TestMeasureStorm' -v ./calibrate ;; \
	  *) LEASESIM_MEASURE=$(WHAT) $(GO) test -count=1 -timeout 30m -run 'TestMeasure' -v ./calibrate ;; \
	esac

# The fast mode's error corpus (package fidelity): every scenario in the
# exact and the fast mode, one at a time; waits while /tmp/leasesim-measuring exists.
# LEASESIM_FAST_CORPUS_EXACT=<an earlier fast-corpus.json> reuses its exact runs
# (seconds; valid only while exact runs stay byte-identical).
fast-corpus:
	LEASESIM_FAST_CORPUS=1 $(GO) test -count=1 -timeout 60m -run '^TestFastCorpus$$' -v ./fidelity
