package inspect

import (
	"context"
	"errors"

	"golang.org/x/sync/singleflight"
)

// SharedCache is a LayerCache that also makes concurrent reads of one
// uncached layer wait for a single read: two scans of images that share a
// new base layer, running at once, read it once. Keep one for the life of
// the process (the server holds one for all its workers); replicas still
// each read a layer none of them has cached.
type SharedCache struct {
	LayerCache
	flights singleflight.Group
}

// NewSharedCache wraps a cache.
func NewSharedCache(c LayerCache) *SharedCache { return &SharedCache{LayerCache: c} }

// once runs read for key unless a read of it is under way, whose result it
// then waits for; a read that finished just before is found in the cache.
func (c *SharedCache) once(ctx context.Context, key string, read func() (*LayerResult, error)) (*LayerResult, error) {
	v, err, _ := c.flights.Do(key, func() (any, error) {
		if lr, ok := c.Get(ctx, key); ok {
			return lr, nil
		}
		return read()
	})
	if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The scan that was reading it was cancelled, not this one.
		return c.once(ctx, key, read)
	}
	if err != nil {
		return nil, err
	}
	return v.(*LayerResult), nil
}
