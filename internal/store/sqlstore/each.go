package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kilnbuild/kiln/internal/store"
)

// ListEach is List handing each object to fn instead of returning them:
// the object, and its Data above all, are only valid during the call
// (they are the driver's row buffers, not copies). A large list then
// costs one copy of its documents (whatever fn makes of them) instead of
// two. The result has the continue token and resource version, no items.
func (s *Store) ListEach(ctx context.Context, opts store.ListOptions, fn func(*store.Object) error) (*store.ListResult, error) {
	p, after, err := s.prepareList(&opts)
	if err != nil {
		return nil, err
	}
	if p.hasResidual() {
		return s.listEachCollected(ctx, opts, fn)
	}
	tx, rv, err := s.beginList(ctx, opts.Kind)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	res := &store.ListResult{ResourceVersion: rv}
	if p.empty {
		return res, nil
	}
	limit := 0
	if opts.Limit > 0 {
		limit = opts.Limit + 1
	}
	if res.Continue, err = eachRow(ctx, tx, p, after, opts, limit, fn); err != nil {
		return nil, fmt.Errorf("listing %s: %w", opts.Kind, err)
	}
	return res, nil
}

// eachRow runs the page's query and calls fn for each row up to
// opts.Limit; a row beyond it means more follow: it returns the continue
// token after the last row given to fn.
func eachRow(ctx context.Context, q querier, p *listPlan, after *continueToken, opts store.ListOptions, limit int, fn func(*store.Object) error) (string, error) {
	query, args := p.selectSQL(after, limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var (
		o         store.Object
		m         string
		data      sql.RawBytes
		n         int
		prevNS    string
		prevName  string
		haveSpare bool
	)
	for rows.Next() {
		if opts.Limit > 0 && n == opts.Limit {
			haveSpare = true
			break
		}
		o = store.Object{Kind: opts.Kind}
		if err := rows.Scan(&o.Namespace, &o.Name, &o.UID, &o.ResourceVersion, &m, &data); err != nil {
			return "", err
		}
		if !p.dataOnly {
			if err := decodeMeta(m, &o); err != nil {
				return "", err
			}
		}
		o.Data = data
		if err := fn(&o); err != nil {
			return "", err
		}
		prevNS, prevName = o.Namespace, o.Name
		n++
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !haveSpare {
		return "", nil
	}
	return encodeContinue(prevNS, prevName), nil
}

// listEachCollected is ListEach for filters checked partly in Go: the
// page is collected first (List), then handed out.
func (s *Store) listEachCollected(ctx context.Context, opts store.ListOptions, fn func(*store.Object) error) (*store.ListResult, error) {
	res, err := s.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, o := range res.Items {
		if err := fn(o); err != nil {
			return nil, err
		}
	}
	res.Items = nil
	return res, nil
}
