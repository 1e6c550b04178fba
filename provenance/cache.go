package provenance

import (
	"encoding/json"
	"sync"
	"time"
)

// Cache keeps verification results by image (store and digest) and trust
// configuration, so that repeated checks of one image do not go back to the
// registry. A digest names content that cannot change, but its signatures
// can be added or removed: entries expire after a TTL.
type Cache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]cacheEntry
	now     func() time.Time
}

type cacheEntry struct {
	ev      []byte // the Evidence in JSON: callers get their own copy
	expires time.Time
}

// NewCache makes a cache holding at most max results for ttl each.
func NewCache(ttl time.Duration, max int) *Cache {
	if max <= 0 {
		max = 1024
	}
	return &Cache{ttl: ttl, max: max, entries: map[string]cacheEntry{}, now: time.Now}
}

// defaultCache serves Verify and verifiers made without a cache of their own.
var defaultCache = NewCache(5*time.Minute, 4096)

func (c *Cache) get(key string) (*Evidence, bool) {
	if c == nil || c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && c.now().After(e.expires) {
		delete(c.entries, key)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	var ev Evidence
	if json.Unmarshal(e.ev, &ev) != nil {
		return nil, false
	}
	return &ev, true
}

func (c *Cache) put(key string, ev *Evidence) {
	if c == nil || c.ttl <= 0 {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.max {
		// Drop the expired, then the soonest to expire.
		var oldest string
		var oldestAt time.Time
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
				continue
			}
			if oldest == "" || e.expires.Before(oldestAt) {
				oldest, oldestAt = k, e.expires
			}
		}
		if len(c.entries) >= c.max {
			delete(c.entries, oldest)
		}
	}
	c.entries[key] = cacheEntry{ev: b, expires: now.Add(c.ttl)}
}

// Len says how many results the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
