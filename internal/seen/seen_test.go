package seen

import (
	"strconv"
	"testing"
)

func TestFirst(t *testing.T) {
	var s Set[string, string]
	for _, tc := range []struct {
		key, value string
		want       bool
	}{
		{"wb1", "WorkbookRefreshFailed", true},
		{"wb1", "WorkbookRefreshFailed", false},
		{"wb1", "WorkbookUpdated", true}, // a new value for the key is new
		{"wb1", "WorkbookUpdated", false},
		{"wb2", "WorkbookUpdated", true},
	} {
		if got := s.First(tc.key, tc.value); got != tc.want {
			t.Errorf("First(%q, %q) = %v, want %v", tc.key, tc.value, got, tc.want)
		}
	}
}

// TestBounded: however many distinct keys come, at most Max are held.
func TestBounded(t *testing.T) {
	for _, max := range []int{0, 1, 10} {
		s := Set[int, struct{}]{Max: max}
		limit := max
		if limit == 0 {
			limit = DefaultMax
		}
		for i := range limit*3 + 1 {
			if !s.First(i, struct{}{}) {
				t.Fatalf("max %d: key %d was never noted, but First said it was", max, i)
			}
			if n := s.Len(); n > limit {
				t.Fatalf("max %d: %d keys held after %d", max, n, i+1)
			}
		}
	}
}

func TestConcurrent(t *testing.T) {
	var s Set[string, struct{}]
	done := make(chan int)
	for range 4 {
		go func() {
			n := 0
			for i := range 1000 {
				if s.First(strconv.Itoa(i), struct{}{}) {
					n++
				}
			}
			done <- n
		}()
	}
	total := 0
	for range 4 {
		total += <-done
	}
	if total != 1000 { // each key first exactly once (1000 < DefaultMax: no reset)
		t.Errorf("%d firsts for 1000 keys", total)
	}
}
