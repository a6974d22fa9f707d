package enrich

import (
	"fmt"
	"testing"
	"time"
)

// TestCacheIsBounded: lookups of ever new items never hold more than the cache's size,
// expired or not.
func TestCacheIsBounded(t *testing.T) {
	c := newCache(time.Hour, 100)
	for i := range 10000 {
		if _, err := c.get(fmt.Sprint("workbook/", i), func() (any, error) { return i, nil }); err != nil {
			t.Fatal(err)
		}
		if n := c.len(); n > 100 {
			t.Fatalf("after %d lookups the cache holds %d entries, more than its 100", i+1, n)
		}
	}
	// What was looked up last is still there.
	v, _ := c.get("workbook/9999", func() (any, error) { return -1, nil })
	if v != 9999 {
		t.Errorf("the newest entry was evicted: %v", v)
	}
}

// BenchmarkCacheManyItems: inserting into a full cache costs about the same whatever
// its size (eviction runs once per tenth of it).
func BenchmarkCacheManyItems(b *testing.B) {
	c := newCache(time.Hour, 10000)
	for i := 0; b.Loop(); i++ {
		_, _ = c.get(fmt.Sprint("workbook/", i), func() (any, error) { return i, nil })
	}
}
