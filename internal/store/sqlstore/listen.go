package sqlstore

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// listen keeps a dedicated PostgreSQL connection LISTENing for the commit
// notifications of every Kiln process on the database and pokes the hub.
// Notifications can be lost while reconnecting; the hub's poll covers that
// window, and every (re)connect pokes the hub once.
func (s *Store) listen(dsn string) {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	for s.ctx.Err() == nil {
		err := s.listenOnce(dsn)
		if s.ctx.Err() != nil {
			return
		}
		slog.Warn("store: PostgreSQL LISTEN connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(dsn string) error {
	conn, err := pgx.Connect(s.ctx, dsn)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}()
	if _, err := conn.Exec(s.ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	s.hub.poke(0)
	for {
		n, err := conn.WaitForNotification(s.ctx)
		if err != nil {
			return err
		}
		rv, _ := strconv.ParseInt(n.Payload, 10, 64)
		s.hub.poke(rv)
	}
}
