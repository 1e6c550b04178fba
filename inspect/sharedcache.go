package inspect

import (
	"context"

	"golang.org/x/sync/singleflight"
)

// SharedCache is a LayerCache that also makes concurrent reads of one
// uncached layer wait for a single read: two scans of images that share a
// new base layer, running at once, read it once. Keep one for the life of
// the process (the server holds one for all its workers); replicas still
// each read a layer none of them has cached.
//
// The wrapped cache's Get must return a result its caller may change (the
// server's store decodes a new one each time): scans that waited take the
// result from Get, never the reader's own, because catalogers' Collect may
// change what Parse found.
type SharedCache struct {
	LayerCache
	flights singleflight.Group
}

// NewSharedCache wraps a cache.
func NewSharedCache(c LayerCache) *SharedCache { return &SharedCache{LayerCache: c} }

// once runs read for key unless a read of it is under way, in which case
// it waits for that read and takes its result from the cache. If that read
// failed (its image's blob was corrupt, its registry refused, its scan was
// cancelled), this scan reads the layer itself.
func (c *SharedCache) once(ctx context.Context, key string, read func() (*LayerResult, error)) (*LayerResult, error) {
	led := false // set by the call that reads; seen after its result arrives
	ch := c.flights.DoChan(key, func() (any, error) {
		led = true
		if lr, ok := c.Get(ctx, key); ok { // read and cached just before
			return lr, nil
		}
		return read()
	})
	var res singleflight.Result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res = <-ch:
	}
	if led {
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*LayerResult), nil
	}
	if res.Err == nil {
		if lr, ok := c.Get(ctx, key); ok {
			return lr, nil
		}
	}
	return read()
}
