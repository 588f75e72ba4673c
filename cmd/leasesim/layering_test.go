package main

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// layers ranks every package of the module: a package may import only
// packages of a lower rank, so the arrows flow one way (the README's layout:
// cmd -> sweep/report/calibrate/properties -> scenario -> spec/recorder ->
// model/netsim/clientmodel -> sim), and components of one rank (model,
// netsim, clientmodel) never import each other. A new package must be ranked
// here.
var layers = map[string]int{
	"sim": 0, "outfile": 0, "calibrate/procstat": 0, "calibrate/sampler": 0,
	"clientmodel": 1, "model": 1, "netsim": 1,
	"clientmodel/scripted": 2, "spec": 2, "recorder": 2, "onceclient": 2,
	"clientmodel/realclient": 3, "export": 3,
	"scenario": 4,
	"sweep":    5, "calibrate": 5, "properties": 5,
	"report": 6, "fidelity": 6,
	"cmd/leasesim": 7,
}

const modulePath = "github.com/leasesim/leasesim/"

func TestImportsFlowOneWay(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || rel == "clientmodel/legacy" || rel == "calibrate/etcd34" {
			return filepath.SkipDir // the legacy client and the etcd 3.4 measurements are modules of their own
		}
		pkg, err := build.Default.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rank, ok := layers[rel]
		if !ok {
			t.Errorf("package %s is not ranked in layers", rel)
			return nil
		}
		seen++
		for _, imp := range pkg.Imports {
			dep, ours := strings.CutPrefix(imp, modulePath)
			if !ours {
				continue
			}
			if r, ok := layers[dep]; !ok || r >= rank {
				t.Errorf("%s (rank %d) imports %s (rank %d): imports must go to a lower rank", rel, rank, dep, r)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < len(layers) {
		t.Errorf("found %d of the %d ranked packages: is the walk's root right?", seen, len(layers))
	}
}
