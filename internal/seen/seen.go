// Package seen remembers what was already said, within a bound: the relay says some
// things once per item (a degraded post, a refetch), and items are unbounded.
package seen

import "sync"

// DefaultMax is the bound of a Set whose Max is not set.
const DefaultMax = 4096

// Set notes keys with a value, at most Max of them: past the bound it starts afresh,
// so a flood of distinct keys costs bounded memory and, at worst, something said once
// more. The zero value is ready to use; it is safe for concurrent use.
type Set[K, V comparable] struct {
	Max int
	mu  sync.Mutex
	m   map[K]V
}

// First reports whether k is not already noted with v, and notes it.
func (s *Set[K, V]) First(k K, v V) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok && old == v {
		return false
	}
	limit := s.Max
	if limit <= 0 {
		limit = DefaultMax
	}
	if s.m == nil || len(s.m) >= limit {
		s.m = make(map[K]V)
	}
	s.m[k] = v
	return true
}

// Len is how many keys are noted.
func (s *Set[K, V]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
