package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kilnbuild/kiln/internal/store"
)

// querier is what reads need from *sql.DB and *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const (
	// residualChunk is the minimum number of candidate rows fetched per query
	// when some requirements are checked in Go.
	residualChunk = 256
	// countChunk bounds the rows held in memory by a Count that checks
	// requirements in Go.
	countChunk = 1000
)

// Get returns the object stored under key.
func (s *Store) Get(ctx context.Context, key store.Key) (*store.Object, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	o := &store.Object{Kind: key.Kind, Namespace: key.Namespace, Name: key.Name}
	var m string
	err := s.reads.m[sqlGetObject].QueryRowContext(ctx, key.Kind, key.Namespace, key.Name).
		Scan(&o.UID, &o.ResourceVersion, &m, &o.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("getting %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", key, err)
	}
	return o, decodeMeta(m, o)
}

// CurrentRV returns the highest committed resource version.
func (s *Store) CurrentRV(ctx context.Context) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	return readRV(ctx, s.rdb)
}

func readRV(ctx context.Context, q querier) (int64, error) {
	var rv int64
	if err := q.QueryRowContext(ctx, sqlGetRV).Scan(&rv); err != nil {
		return 0, fmt.Errorf("reading resource version: %w", err)
	}
	return rv, nil
}

// beginList opens the read transaction a list page is read in and reads
// the resource version the page is as of; the caller rolls it back.
func (s *Store) beginList(ctx context.Context, kind string) (*sql.Tx, int64, error) {
	tx, err := s.rdb.BeginTx(ctx, s.d.readTx)
	if err != nil {
		return nil, 0, fmt.Errorf("listing %s: %w", kind, err)
	}
	rv, err := readRV(ctx, tx)
	if err != nil {
		_ = tx.Rollback()
		return nil, 0, fmt.Errorf("listing %s: %w", kind, err)
	}
	return tx, rv, nil
}

// List returns one page of objects of a kind, in (namespace, name) order.
// The page and ListResult.ResourceVersion come from one read transaction.
func (s *Store) List(ctx context.Context, opts store.ListOptions) (*store.ListResult, error) {
	p, after, err := s.prepareList(&opts)
	if err != nil {
		return nil, err
	}
	tx, rv, err := s.beginList(ctx, opts.Kind)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	res := &store.ListResult{ResourceVersion: rv, Items: []*store.Object{}}
	if p.empty {
		return res, nil
	}
	items, err := s.collect(ctx, tx, p, after, opts.Kind, opts.Limit)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", opts.Kind, err)
	}
	if opts.Limit > 0 && len(items) > opts.Limit {
		items = items[:opts.Limit]
		last := items[len(items)-1]
		res.Continue = encodeContinue(last.Namespace, last.Name)
	}
	res.Items = items
	return res, nil
}

func (s *Store) prepareList(opts *store.ListOptions) (*listPlan, *continueToken, error) {
	if err := s.checkOpen(); err != nil {
		return nil, nil, err
	}
	if err := validateListFilter(&opts.Filter); err != nil {
		return nil, nil, err
	}
	if opts.Limit < 0 {
		return nil, nil, fmt.Errorf("%w: negative limit %d", store.ErrInvalid, opts.Limit)
	}
	after, err := decodeContinue(opts.Continue)
	if err != nil {
		return nil, nil, err
	}
	p := planList(s.d, &opts.Filter)
	p.dataOnly = opts.DataOnly && !p.hasResidual()
	return p, after, nil
}

func validateListFilter(f *store.Filter) error {
	if f.Kind == "" {
		return fmt.Errorf("%w: a kind is required", store.ErrInvalid)
	}
	return validateFilter(f)
}

// collect reads matching objects after the keyset position until it has
// limit+1 of them (so the caller knows whether more follow) or runs out.
func (s *Store) collect(ctx context.Context, q querier, p *listPlan, after *continueToken,
	kind string, limit int) ([]*store.Object, error) {
	want, chunk := 0, 0
	if limit > 0 {
		want, chunk = limit+1, limit+1
		if p.hasResidual() {
			chunk = max(2*want, residualChunk)
		}
	}
	var items []*store.Object
	for {
		objs, err := queryObjects(ctx, q, p, after, kind, chunk)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if p.keep(o) {
				items = append(items, o)
			}
			if want > 0 && len(items) == want {
				return items, nil
			}
		}
		if chunk == 0 || len(objs) < chunk {
			return items, nil
		}
		last := objs[len(objs)-1]
		after = &continueToken{Namespace: last.Namespace, Name: last.Name}
	}
}

func queryObjects(ctx context.Context, q querier, p *listPlan, after *continueToken,
	kind string, limit int) ([]*store.Object, error) {
	query, args := p.selectSQL(after, limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var objs []*store.Object
	for rows.Next() {
		o := &store.Object{Kind: kind}
		var m string
		if err := rows.Scan(&o.Namespace, &o.Name, &o.UID, &o.ResourceVersion, &m, &o.Data); err != nil {
			return nil, err
		}
		if !p.dataOnly {
			if err := decodeMeta(m, o); err != nil {
				return nil, err
			}
		}
		objs = append(objs, o)
	}
	return objs, rows.Err()
}

// Count returns how many objects match f.
func (s *Store) Count(ctx context.Context, f store.Filter) (int, error) {
	p, _, err := s.prepareList(&store.ListOptions{Filter: f})
	if err != nil {
		return 0, err
	}
	if p.empty {
		return 0, nil
	}
	if !p.hasResidual() {
		query, args := p.countSQL()
		var n int
		if err := s.rdb.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("counting %s: %w", f.Kind, err)
		}
		return n, nil
	}
	n, err := s.countResidual(ctx, p, f.Kind)
	if err != nil {
		return 0, fmt.Errorf("counting %s: %w", f.Kind, err)
	}
	return n, nil
}

// countResidual counts in chunks the candidates that pass the Go checks.
func (s *Store) countResidual(ctx context.Context, p *listPlan, kind string) (int, error) {
	var after *continueToken
	n := 0
	for {
		objs, err := queryObjects(ctx, s.rdb, p, after, kind, countChunk)
		if err != nil {
			return 0, err
		}
		for _, o := range objs {
			if p.keep(o) {
				n++
			}
		}
		if len(objs) < countChunk {
			return n, nil
		}
		last := objs[len(objs)-1]
		after = &continueToken{Namespace: last.Namespace, Name: last.Name}
	}
}

// readEvents returns up to limit events with from < rv <= to, in order.
func readEvents(ctx context.Context, q querier, from, to int64, limit int) ([]*store.Event, error) {
	rows, err := q.QueryContext(ctx, sqlEventsAfter, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("reading events after %d: %w", from, err)
	}
	defer rows.Close()
	var evs []*store.Event
	for rows.Next() {
		o := &store.Object{}
		var typ, m string
		err := rows.Scan(&o.ResourceVersion, &typ, &o.Kind, &o.Namespace, &o.Name, &o.UID, &m, &o.Data)
		if err != nil {
			return nil, fmt.Errorf("reading events after %d: %w", from, err)
		}
		if err := decodeMeta(m, o); err != nil {
			return nil, err
		}
		evs = append(evs, &store.Event{Type: store.EventType(typ), Object: o})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading events after %d: %w", from, err)
	}
	return evs, nil
}
