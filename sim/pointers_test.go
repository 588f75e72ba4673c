package sim

import (
	"reflect"
	"testing"
)

// Only payloads that hold pointers need their slot cleared after delivery.
func TestPayloadPointers(t *testing.T) {
	type flat struct {
		a uint8
		b [3]int64
	}
	type ref struct {
		a int
		s []int
	}
	for _, c := range []struct {
		t    reflect.Type
		want bool
	}{
		{reflect.TypeFor[flat](), false}, {reflect.TypeFor[int](), false}, {reflect.TypeFor[[0]*int](), false},
		{reflect.TypeFor[ref](), true}, {reflect.TypeFor[string](), true}, {reflect.TypeFor[*int](), true},
		{reflect.TypeFor[func()](), true}, {reflect.TypeFor[[2]string](), true},
	} {
		if got := hasPointers(c.t); got != c.want {
			t.Errorf("%v: %v, want %v", c.t, got, c.want)
		}
	}
	if New[flat]().clearSlots || !New[ref]().clearSlots {
		t.Fatal("New decides clearing wrongly")
	}
}
