// Package spec is leasesim's scenario language as users write it: the YAML
// scenario format and its strict loader, the defaults, the built-in
// scenarios and parameter files, the command-line flag table, the consumer
// syntax, the CPU cost defaults, the one-paragraph summary, and the one
// validator that every entry point uses. It knows nothing of how a scenario
// is simulated: package scenario runs what Resolve returns.
//
// Terms:
//
//   - A scenario (Spec) describes one simulation: the clients (how many,
//     their clientv3 version, lease TTL, how the application reads its
//     KeepAlive channel), the server they talk to (an idealised server or a
//     modelled etcd cluster), the CPU costs, the host the members run on
//     (other processes' load: host.go), the faults, the duration and the
//     seed. It is written as one YAML document (a scenario file), or built
//     from command-line flags (ApplyFlag), or both.
//   - A built-in is a scenario or parameter file compiled into the binary
//     (builtin/*.yaml, params/*.yaml), named by its file name without .yaml:
//     Builtin("incident-2018"), LoadParams("reference-2core").
//   - A params file (parameter file, Params) holds CPU costs fitted to
//     measurements of a real cluster ('leasesim calibrate --fit' writes one),
//     with where and how they were measured. A scenario names one with
//     "params:"; its costs replace DefaultCosts field by field, and the
//     scenario's own costs section replaces the params file's.
//   - Member stalls are opt-in inputs that make a member's CPU less smooth:
//     host.background_cores (other processes' cores, constant or drawn),
//     host.background_threads (other processes' always-runnable threads,
//     sharing the cores per thread, each thread at host.all_busy_speed while
//     all cores are busy; a params file may carry the measured speed),
//     cluster.gc (Go's collector, DefaultGC; cluster.gogc its GOGC),
//     cluster.service_spread (each
//     job's cost drawn, DefaultServiceSpread) and cluster.processor_sharing
//     (the cores shared among the requests in a CPU, not one FIFO). Off, a
//     run is exactly what it was before they existed.
//   - A client kind (clients.kind) is what each client process does with
//     its lease: KeepAlive (the default), grant-only, event-writer, or a
//     KeepAliveOnce loop (keepalive-once, clients.period). A client process
//     (Process) is one run of a client's program: with a restart wave
//     (clients.restart, RestartSpec) some processes exit and a new process
//     starts in each one's place with a lease of its own, so a scenario of N
//     clients has N processes plus one per restart (Incarnations), each
//     with its own client index and lease entry.
//   - A what-if override is one field of a scenario changed by a flag
//     (--ttl 30s) or a 'leasesim run --what-if ttl=30s', in the syntax of the
//     flag table (Overrides, ApplyFlag), to compare a variant with its base.
//   - A resolved scenario (Resolved) is a Spec with its defaults applied,
//     validated, and turned into plain data: a *Ideal or a *Cluster whose
//     fields are Go values (time.Duration, clientmodel.Version, the merged
//     Costs) rather than text. Resolve is the only way to make one from
//     user input, so everything the simulator runs has passed Validate.
//
// Reading a scenario file takes three steps: Parse decodes strictly (errors
// name the file, the line and the field path), ApplyDefaults fills in what
// the file leaves out, and Validate checks every value against the range
// where the model is defined. Load, LoadFile and Builtin do all three.
package spec
