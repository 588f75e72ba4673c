// Command legacy runs the real, old etcd client library
// (github.com/coreos/etcd/clientv3 v3.3.8+incompatible, which has the 2018
// keepalive bug, or v3.3.9+incompatible, which fixed it) in virtual time under
// testing/synctest against a scripted fake Lease server, and records its
// keepalive request timeline as a Result (see script.go and
// ../scripted/script.go). The harness lives in harness.go; the tests in
// legacy_test.go drive it (see README.md).
//
// It is a separate Go module because those clients need google.golang.org/grpc
// v1.7.5, while the main module uses modern gRPC. The etcd version is chosen by
// the modfile: go.mod pins v3.3.8, go.v339.mod pins v3.3.9.
//
// It is a main package only so that `go test` binaries carry module
// dependency information: runtime/debug.ReadBuildInfo lists Deps in a test
// binary only when the package under test is named main (golang/go#33976), and
// the harness reads the etcd version from there. Running the command just
// prints that version.
package main

import (
	"fmt"
	"os"
)

func main() {
	v, err := EtcdVersion()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(v)
}
