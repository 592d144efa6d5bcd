package service

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratls/ratls/service/store"
)

const (
	// maxLogBatch bounds the appraisal log entries written in one
	// transaction.
	maxLogBatch = 256
	// maxLogGather bounds how long the writer waits for entries of
	// appraisals in progress before committing what it has.
	maxLogGather = 500 * time.Microsecond
)

// appraisalLog writes appraisal log entries with group commit: a request
// waits until its entry is committed (so nothing a client was told is lost
// on a crash), but concurrent requests share one transaction, which is what
// keeps the log off the critical path under load. The writer knows how many
// appraisals are in progress and, while there are some, gathers their
// entries for up to maxLogGather before committing.
type appraisalLog struct {
	st      store.Store
	queue   chan *logWrite
	wg      sync.WaitGroup
	pending atomic.Int64 // appraisals begun whose entry is not queued yet
}

type logWrite struct {
	a    *store.Appraisal
	done chan error
}

func newAppraisalLog(st store.Store) *appraisalLog {
	l := &appraisalLog{st: st, queue: make(chan *logWrite, 4*maxLogBatch)}
	l.wg.Add(1)
	go l.run()
	return l
}

// begin announces an appraisal whose entry will follow; the caller must
// then call add, or end if it will not log.
func (l *appraisalLog) begin() { l.pending.Add(1) }

// end withdraws an announced entry.
func (l *appraisalLog) end() { l.pending.Add(-1) }

// add queues an announced entry and waits for its commit, or for ctx.
func (l *appraisalLog) add(ctx context.Context, a *store.Appraisal) error {
	w := &logWrite{a: a, done: make(chan error, 1)}
	select {
	case l.queue <- w:
		l.end()
	case <-ctx.Done():
		l.end()
		return ctx.Err()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *appraisalLog) run() {
	defer l.wg.Done()
	batch := make([]*logWrite, 0, maxLogBatch)
	entries := make([]*store.Appraisal, 0, maxLogBatch)
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	for w := range l.queue {
		batch = append(batch[:0], w)
		l.gather(&batch, gather)
		entries = entries[:0]
		for _, w := range batch {
			entries = append(entries, w.a)
		}
		// Detached from the requests: one client giving up must not fail
		// the others' entries.
		err := l.st.AddAppraisals(context.Background(), entries...)
		for _, w := range batch {
			w.done <- err
		}
	}
}

// gather adds queued entries to batch, waiting up to maxLogGather for those
// of appraisals still in progress.
func (l *appraisalLog) gather(batch *[]*logWrite, t *time.Timer) {
	waiting := false
	defer func() {
		if waiting {
			t.Stop()
		}
	}()
	for len(*batch) < maxLogBatch {
		select {
		case w, ok := <-l.queue:
			if !ok {
				return
			}
			*batch = append(*batch, w)
			continue
		default:
		}
		if l.pending.Load() == 0 {
			return // nobody else is about to log
		}
		if !waiting {
			waiting = true
			t.Reset(maxLogGather)
		}
		select {
		case w, ok := <-l.queue:
			if !ok {
				return
			}
			*batch = append(*batch, w)
		case <-t.C:
			waiting = false
			return
		}
	}
}

// close writes what is queued and stops; add must not be called after.
func (l *appraisalLog) close() {
	close(l.queue)
	l.wg.Wait()
}
