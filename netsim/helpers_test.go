package netsim_test

import "github.com/leasesim/leasesim/sim"

func int64ToTime(ns int64) sim.Time { return sim.Time(ns) }
