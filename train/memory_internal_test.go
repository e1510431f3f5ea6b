package train

import "testing"

func TestParseMemAvailable(t *testing.T) {
	got, ok := parseMemAvailable([]byte("MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n"))
	if !ok || got != 8000000*1024 {
		t.Errorf("got %d, %v; want %d", got, ok, 8000000*1024)
	}
	if _, ok := parseMemAvailable([]byte("MemTotal: 5 kB\n")); ok {
		t.Error("no MemAvailable line: want false")
	}
}
