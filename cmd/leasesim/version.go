package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time by 'make build' (-ldflags "-X main.commit=..."), for
// builds without VCS stamping (-buildvcs=false, or a source tarball).
var (
	version = ""
	commit  = ""
)

// buildInfo is what 'leasesim version' prints and the report's footer shows.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// readBuildInfo takes the module version and VCS commit from the binary's
// build info (runtime/debug), falling back to the link-time variables.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Commit: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if commit != "" && b.Commit == "unknown" {
		b.Commit = commit
	}
	return b
}

func (b buildInfo) commitShort() string {
	c := b.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if b.Modified {
		c += "+dirty"
	}
	return c
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	var wo writeOut
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print leasesim's version, VCS commit and Go version",
		Long: `Prints leasesim's module version and the VCS commit it was built from (from
the binary's build information), and the Go version. For the clientv3
versions leasesim models, see 'leasesim client-versions'.`,
		Example: `  leasesim version
  leasesim version -w json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := wo.resolve(cmd.Flags())
			if err != nil {
				return err
			}
			b := readBuildInfo()
			if format == "json" {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", " ")
				return enc.Encode(b)
			}
			fmt.Fprintf(stdout, "leasesim version: %s\ngit commit: %s\ngo version: %s\n", b.Version, b.commitShort(), b.GoVersion)
			return nil
		},
	}
	addWriteOut(cmd.Flags(), &wo, "table", "table", "json")
	return cmd
}
