//go:build !unix

package procstat

import (
	"errors"
	"fmt"
)

// SelfRusage is only implemented on Unix systems; elsewhere it returns an
// error wrapping errors.ErrUnsupported.
func SelfRusage() (CPUTimes, error) {
	return CPUTimes{}, fmt.Errorf("procstat: getrusage: %w", errors.ErrUnsupported)
}
