package main

import (
	"context"
	"fmt"
	"time"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

func main() {
	s, _ := spec.Builtin("incident-2018-ttl600")
	s.Duration = spec.Duration(65 * time.Minute)
	t := time.Now()
	o, _ := scenario.Run(context.Background(), s, nil)
	fmt.Println("ttl600 65m", time.Since(t), o.Events)
}
