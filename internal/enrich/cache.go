package enrich

import (
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// cache keeps successful lookups for a short time and lets concurrent lookups of the
// same key share one request, so a burst of events about one workbook costs one call.
// It holds at most max entries: a backlog about 100,000 different workbooks does not
// keep 100,000 lookups.
type cache struct {
	ttl   time.Duration
	max   int
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	val     any
	expires time.Time
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{ttl: ttl, max: max, entries: map[string]entry{}}
}

func (c *cache) get(key string, fetch func() (any, error)) (any, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.val, nil
	}
	c.mu.Unlock()
	v, err, _ := c.group.Do(key, func() (any, error) {
		// A lookup that finished between the check above and this call has filled the
		// cache: without this second look, a burst would fetch twice.
		c.mu.Lock()
		if e, ok := c.entries[key]; ok && time.Now().Before(e.expires) {
			c.mu.Unlock()
			return e.val, nil
		}
		c.mu.Unlock()
		v, err := fetch()
		if err == nil {
			c.mu.Lock()
			c.evictLocked(now) // before: the new entry is never the one evicted
			c.entries[key] = entry{val: v, expires: time.Now().Add(c.ttl)}
			c.mu.Unlock()
		}
		return v, err
	})
	return v, err
}

// forget drops a key's entry: the next get fetches again.
func (c *cache) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// evictLocked makes room once the cache is full: expired entries go first, then as
// many others (the map's order: arbitrary) as leave a tenth of it free — so the scan
// runs once per max/10 inserts, not on every one.
func (c *cache) evictLocked(now time.Time) {
	if len(c.entries) < c.max {
		return
	}
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	keep := c.max - c.max/10 - 1
	for k := range c.entries {
		if len(c.entries) <= keep {
			break
		}
		delete(c.entries, k)
	}
}

// len is how many entries the cache holds.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
