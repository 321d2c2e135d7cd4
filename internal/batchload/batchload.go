package batchload

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Func reads one batch of keys. It calls put for each key it found a value for (in any order, at
// most once a key) and returns the errors of single keys it could not read (damage: the batch
// still counts, those keys are left out), or an error that ends the whole load (the database or
// server is unwell). A worker calls its Func for one batch after another, never two at once, so
// a Func may keep buffers between calls; different workers run in parallel.
type Func[V any] func(batch []string, put func(key string, v V)) (damage []error, err error)

// Load splits keys into batches of at most size keys and reads them with workers workers, each
// running the Func that newWorker returns for it. It returns every value put, and an error
// joining, in batch order, the damage reported and the errors that ended a worker. After such an
// error no further batch is started, and the map holds what the batches already read.
//
// size and workers below 1 count as 1. Each worker merges a batch into the map under one lock,
// after reading it, so that workers read and decode in parallel.
func Load[V any](keys []string, size, workers int, newWorker func() Func[V]) (map[string]V, error) {
	size, workers = max(size, 1), max(workers, 1)
	batches := (len(keys) + size - 1) / size
	errs := make([][]error, batches) // each batch's, written by the worker that read it
	var (
		next   atomic.Int64
		failed atomic.Bool // a batch failed outright: stop handing out batches
		mu     sync.Mutex  // guards out
		out    = make(map[string]V, len(keys))
		wg     sync.WaitGroup
	)
	for range min(workers, batches) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			read := newWorker()
			type kv struct {
				k string
				v V
			}
			got := make([]kv, 0, min(size, len(keys)))
			put := func(k string, v V) { got = append(got, kv{k, v}) }
			for {
				b := int(next.Add(1)) - 1
				if b >= batches || failed.Load() {
					return
				}
				got = got[:0]
				damage, err := read(keys[b*size:min((b+1)*size, len(keys))], put)
				if err != nil {
					errs[b] = append(damage, err)
					failed.Store(true)
					return
				}
				errs[b] = damage
				mu.Lock()
				for _, p := range got {
					out[p.k] = p.v
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var all []error
	for _, e := range errs {
		all = append(all, e...)
	}
	return out, errors.Join(all...)
}
