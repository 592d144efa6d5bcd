package service

import (
	"context"
	"sync"

	"github.com/ratls/ratls/service/store"
)

// maxLogBatch bounds the appraisal log entries written in one transaction.
const maxLogBatch = 256

// appraisalLog writes appraisal log entries with group commit: a request
// waits until its entry is committed (so nothing a client was told is lost
// on a crash), but concurrent requests share one transaction, which is what
// keeps the log off the critical path under load.
type appraisalLog struct {
	st    store.Store
	queue chan *logWrite
	wg    sync.WaitGroup
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

// add queues a and waits for its commit, or for ctx.
func (l *appraisalLog) add(ctx context.Context, a *store.Appraisal) error {
	w := &logWrite{a: a, done: make(chan error, 1)}
	select {
	case l.queue <- w:
	case <-ctx.Done():
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
	for w := range l.queue {
		batch = append(batch[:0], w)
	fill:
		for len(batch) < maxLogBatch {
			select {
			case w, ok := <-l.queue:
				if !ok {
					break fill
				}
				batch = append(batch, w)
			default:
				break fill
			}
		}
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

// close writes what is queued and stops; add must not be called after.
func (l *appraisalLog) close() {
	close(l.queue)
	l.wg.Wait()
}
