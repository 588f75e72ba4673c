module github.com/leasesim/leasesim/clientmodel/legacy

go 1.26.0

require (
	github.com/coreos/etcd v3.3.8+incompatible
	google.golang.org/grpc v1.7.5
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
