package scenario

import (
	"testing"
	"unsafe"
)

// The kernel copies every event it holds twice: keep the event small.
// (Each component's Pack/Unpack round trip is tested in its package.)
func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(event{}); n > 48 {
		t.Fatalf("event is %d bytes; the kernel copies it twice per event", n)
	}
}
