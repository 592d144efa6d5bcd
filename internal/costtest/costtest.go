// Package costtest measures, in tests and benchmarks, what verification
// costs: CPU time as a multiple of a floor (one signature verification)
// measured in the same run, and heap per cached item.
package costtest

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Timer accumulates CPU time; with B set, it runs B's timer alike.
type Timer struct {
	B     *testing.B
	t0    time.Duration
	Total time.Duration
}

// Start starts measuring.
func (t *Timer) Start() {
	if t.B != nil {
		t.B.StartTimer()
	}
	t.t0 = CPUTime()
}

// Stop stops measuring.
func (t *Timer) Stop() {
	t.Total += CPUTime() - t.t0
	if t.B != nil {
		t.B.StopTimer()
	}
}

// Measure runs the timed loop of a benchmark, fn(i) for each i < b.N, and
// reports its CPU time per operation as a multiple of floor (metric
// "x"+unit). CPU time, not wall time, so that other processes on the
// machine do not count (the garbage collector's work does); and the floor
// is measured in batches between chunks of the loop, so that both see the
// machine alike. fn may leave work out of the measurement with t.Stop and
// t.Start. The benchmark's timer must be stopped when Measure is called.
func Measure(b *testing.B, unit string, floor func(), fn func(i int, t *Timer)) {
	const chunk, batch = 64, 16
	var floorCPU Timer
	floorN := 0
	b.ReportAllocs()
	b.ResetTimer()
	measured := Timer{B: b}
	for i := 0; i < b.N; {
		measured.Start()
		for end := min(i+chunk, b.N); i < end; i++ {
			fn(i, &measured)
		}
		measured.Stop()
		floorCPU.Start()
		for range batch {
			floor()
		}
		floorCPU.Stop()
		floorN += batch
	}
	perFloor := float64(floorCPU.Total.Nanoseconds()) / float64(floorN)
	b.ReportMetric(perFloor, unit+"-cpu-ns")
	b.ReportMetric(float64(measured.Total.Nanoseconds())/float64(b.N)/perFloor, "x"+unit)
}

// HeapInUse returns the live heap after a full collection.
func HeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Each runs fn(i) for i in [0, n) on GOMAXPROCS goroutines and returns the
// first error.
func Each(n int, fn func(i int) error) error {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return nil
}
