package enrich

import (
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// cache keeps successful lookups for a short time and lets concurrent lookups of the
// same key share one request, so a burst of events about one workbook costs one call.
type cache struct {
	ttl   time.Duration
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	val     any
	expires time.Time
}

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, entries: map[string]entry{}}
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
			c.entries[key] = entry{val: v, expires: time.Now().Add(c.ttl)}
			c.evictLocked(now)
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

// evictLocked drops expired entries once the map grows, bounding memory in long runs.
func (c *cache) evictLocked(now time.Time) {
	if len(c.entries) < 1024 {
		return
	}
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}
