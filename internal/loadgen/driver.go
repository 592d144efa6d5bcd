package loadgen

import (
	"context"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// op is one operation; it returns an error kind ("" for success) and the
// number of requests it made.
type op func(ctx context.Context, worker, i int) (kind string, reqs int)

// driver is a phase: its operation and load, and, for the service
// phases, what is read from the service around each measured slice.
type driver struct {
	name, label, unit string // unit: "workers" or "clients"
	n                 int
	op                op
	run               *run

	h       *loadHTTP // nil in-process
	routes  []string
	metrics map[string]float64 // summed over the measured slices
	commits int64
	entries int64
	// sample keeps one successful answer per client, verified at the end.
	sample []string
}

// run is what the measured slices of a phase record.
type run struct {
	ops, reqs, errs atomic.Int64
	mu              sync.Mutex
	kinds           map[string]int64
	lat             [][]time.Duration
	seconds         float64
	// CPU time of this process and jiffies of the host, summed over the
	// slices; cpuOK when every slice could read them.
	process           time.Duration
	hostBusy, hostAll uint64
	cpuOK             bool
	slices            int
}

// drive runs op on n goroutines for d; with r set it records the
// operations, their latencies and the CPU time.
func drive(ctx context.Context, n int, d time.Duration, label string, op op, r *run) {
	var c0 cpuTimes
	if r != nil {
		c0 = readCPU()
	}
	t0 := time.Now()
	end := t0.Add(d)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", label), func(ctx context.Context) {
				var lat []time.Duration
				for i := w; ctx.Err() == nil; i += n {
					t := time.Now()
					if !t.Before(end) {
						break
					}
					kind, reqs := op(ctx, w, i)
					el := time.Since(t)
					if r == nil {
						continue
					}
					r.ops.Add(1)
					r.reqs.Add(int64(reqs))
					if kind != "" {
						r.errs.Add(1)
						r.mu.Lock()
						r.kinds[kind]++
						r.mu.Unlock()
					}
					lat = append(lat, el)
				}
				if r != nil {
					r.mu.Lock()
					r.lat = append(r.lat, lat)
					r.mu.Unlock()
				}
			})
		})
	}
	wg.Wait()
	if r == nil {
		return
	}
	r.seconds += time.Since(t0).Seconds()
	c := readCPU()
	ok := c.ok && c0.ok && c.all > c0.all
	if r.slices == 0 {
		r.cpuOK = ok
	}
	r.cpuOK = r.cpuOK && ok
	if ok {
		r.process += c.process - c0.process
		r.hostBusy += c.busy - c0.busy
		r.hostAll += c.all - c0.all
	}
	r.slices++
}

// slice runs one measured slice of the phase.
func (d *driver) slice(ctx context.Context, dur time.Duration) error {
	var before map[string]float64
	var c0, e0 int64
	if d.h != nil {
		var err error
		if before, err = d.h.metrics(ctx); err != nil {
			return err
		}
		if d.h.log != nil {
			c0, e0 = d.h.log.commits.Load(), d.h.log.entries.Load()
		}
	}
	drive(ctx, d.n, dur, d.label, d.op, d.run)
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	if d.h != nil {
		after, err := d.h.metrics(ctx)
		if err != nil {
			return err
		}
		for k, v := range after {
			d.metrics[k] += v - before[k]
		}
		if d.h.log != nil {
			d.commits += d.h.log.commits.Load() - c0
			d.entries += d.h.log.entries.Load() - e0
		}
	}
	return nil
}

// report summarizes the phase; for a service phase it checks that every
// client's first answer is an EAR the service's keys verify.
func (d *driver) report(ctx context.Context) (*Phase, error) {
	r := d.run
	p := &Phase{Name: d.name, Concurrency: d.n, Seconds: r.seconds, Operations: r.ops.Load(),
		Requests: r.reqs.Load(), Errors: r.errs.Load()}
	if len(r.kinds) > 0 {
		p.ErrorKinds = r.kinds
	}
	if r.seconds > 0 {
		p.OpsPerSec = float64(p.Operations) / r.seconds
		p.ReqPerSec = float64(p.Requests) / r.seconds
	}
	all := slices.Concat(r.lat...)
	slices.Sort(all)
	if len(all) > 0 {
		var sum time.Duration
		for _, l := range all {
			sum += l
		}
		us := func(l time.Duration) float64 { return float64(l) / float64(time.Microsecond) }
		at := func(q float64) float64 { return us(all[int(q*float64(len(all)-1))]) }
		p.Latency = Latency{Mean: us(sum) / float64(len(all)), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: us(all[len(all)-1])}
	}
	if r.cpuOK && p.Operations > 0 && r.seconds > 0 && r.hostAll > 0 {
		p.CPUPerOpMicros = r.process.Seconds() * 1e6 / float64(p.Operations)
		p.HostBusy = float64(r.hostBusy) / float64(r.hostAll)
		p.OtherCores = max(0, p.HostBusy*float64(runtime.NumCPU())-r.process.Seconds()/r.seconds)
	}
	if d.h == nil {
		return p, nil
	}
	p.serviceCosts(d.metrics, d.routes)
	if d.commits > 0 {
		p.LogCommits, p.LogBatchMean = d.commits, float64(d.entries)/float64(d.commits)
	}
	for _, tok := range d.sample {
		if tok == "" {
			continue
		}
		if _, err := d.h.client.VerifyEAR(ctx, tok); err != nil {
			if ctx.Err() != nil {
				return nil, ErrInterrupted
			}
			p.Errors++
			if p.ErrorKinds == nil {
				p.ErrorKinds = map[string]int64{}
			}
			p.ErrorKinds["EAR does not verify: "+err.Error()]++
		}
	}
	return p, nil
}
