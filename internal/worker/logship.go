package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/remote"
)

// shipInterval is how often the log is sent while a build runs.
const shipInterval = 200 * time.Millisecond

// logShipper is a build's log on the worker: what the steps write is sent
// to the server as it comes (every shipInterval), in order, each chunk
// at its offset so a retried request is never written twice.
type logShipper struct {
	c      *client
	task   *remote.Task
	lost   func(error)
	mu     sync.Mutex
	buf    []byte
	offset int64 // of buf[0] in the log
	stop   chan struct{}
	done   chan struct{}
}

func newLogShipper(c *client, t *remote.Task, lost func(error)) *logShipper {
	s := &logShipper{c: c, task: t, lost: lost, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

// Write keeps p for the next shipment.
func (s *logShipper) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	s.mu.Unlock()
	return len(p), nil
}

func (s *logShipper) loop() {
	defer close(s.done)
	t := time.NewTicker(shipInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.ship(context.Background())
		}
	}
}

// ship sends what is buffered; it reports whether everything was sent.
func (s *logShipper) ship(ctx context.Context) bool {
	s.mu.Lock()
	chunk, off := append([]byte(nil), s.buf...), s.offset
	s.mu.Unlock()
	if len(chunk) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.c.log(ctx, s.task, off, chunk); err != nil {
		if !errors.Is(err, errLeaseLost) {
			return false // the network: try again
		}
		s.lost(err) // refused: nothing more will be accepted
		chunk = nil
		s.mu.Lock()
		s.buf = nil
		s.mu.Unlock()
		return true
	}
	s.mu.Lock()
	s.buf, s.offset = s.buf[len(chunk):], off+int64(len(chunk))
	s.mu.Unlock()
	return true
}

// Close stops the shipping loop and sends the rest, trying until ctx ends.
func (s *logShipper) Close(ctx context.Context) error {
	close(s.stop)
	<-s.done
	for !s.ship(ctx) {
		select {
		case <-ctx.Done():
			return errors.New("the end of the build log could not be sent to the server")
		case <-time.After(shipInterval):
		}
	}
	return nil
}
