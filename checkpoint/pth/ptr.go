package pth

import "unsafe"

// uintptrOf returns the address of x's first element, used only as an
// identity to detect tied tensors that share one Data slice.
func uintptrOf(x []float32) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(x))) }
