// Package store defines Kiln's persistence contract: a versioned object store
// with an ordered event log that watchers can resume from.
//
// The store knows nothing about kinds or schemas. It keeps opaque JSON
// documents keyed by (kind, namespace, name), assigns a global, strictly
// increasing resource version to every write, indexes labels, selected fields
// and owner UIDs so lists never need a full scan, and records every write in
// an event log in commit order. Backends (SQLite, PostgreSQL) live in
// sub-packages and all pass the shared conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Key identifies one object. Namespace is empty for cluster-scoped kinds.
type Key struct {
	Kind      string
	Namespace string
	Name      string
}

func (k Key) String() string {
	if k.Namespace == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Namespace + "/" + k.Name
}

// Object is one stored document plus the metadata the store indexes.
type Object struct {
	Kind      string
	Namespace string
	Name      string
	// UID is assigned by the caller (or by the store when empty on Create) and
	// never changes for the object's lifetime.
	UID string
	// ResourceVersion is assigned by the store on every write. On Update and
	// Delete a non-zero value is a precondition: the write fails with
	// ErrConflict unless it equals the stored version.
	ResourceVersion int64
	// Labels are indexed for label selectors.
	Labels map[string]string
	// Fields are indexed for field selectors (e.g. "spec.application").
	Fields map[string]string
	// OwnerUIDs are indexed so dependants of an owner can be listed.
	OwnerUIDs []string
	// Data is the JSON document; opaque to the store.
	Data []byte
}

// Key returns the object's key.
func (o *Object) Key() Key { return Key{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name} }

// Operator is a selector requirement operator.
type Operator string

const (
	OpEquals       Operator = "="
	OpNotEquals    Operator = "!="
	OpIn           Operator = "in"
	OpNotIn        Operator = "notin"
	OpExists       Operator = "exists"
	OpDoesNotExist Operator = "!"
)

// Requirement is one term of a label or field selector. All requirements of a
// selector must hold (logical AND).
type Requirement struct {
	Key      string
	Operator Operator
	Values   []string
}

// Filter selects objects of one kind. It is shared by List and Watch.
type Filter struct {
	Kind string
	// Namespace restricts to one namespace; empty means all namespaces.
	Namespace string
	// Namespaces, when non-nil, restricts to this set (used to show a caller
	// only the namespaces it may see). An empty non-nil slice matches nothing.
	Namespaces []string
	Labels     []Requirement
	// Fields may use the keys in Object.Fields plus "metadata.name" and
	// "metadata.namespace"; only OpEquals and OpNotEquals are required.
	Fields []Requirement
	// OwnerUID restricts to objects that list this UID in OwnerUIDs.
	OwnerUID string
}

// ListOptions adds pagination to a Filter.
type ListOptions struct {
	Filter
	// Limit is the page size; 0 means no limit.
	Limit int
	// Continue is the opaque token returned by the previous page.
	Continue string
	// DataOnly asks for items that carry their key, UID, ResourceVersion
	// and Data only: a store may then leave Labels, Fields and OwnerUIDs
	// empty (it skips decoding them), which is what serving stored
	// documents as they are needs.
	DataOnly bool
}

// ListResult is one page. Items are ordered by (namespace, name).
type ListResult struct {
	Items []*Object
	// Continue is non-empty when more items follow.
	Continue string
	// ResourceVersion is the store's version as of this read; a watch started
	// from it sees every later change.
	ResourceVersion int64
}

// EventType says what happened to an object.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one entry of the event log. For Deleted, Object is the last state
// with ResourceVersion set to the version of the deletion.
type Event struct {
	Type   EventType
	Object *Object
}

// WatchOptions selects which events a watcher receives.
type WatchOptions struct {
	Filter
	// SinceRV delivers every matching event with ResourceVersion > SinceRV, in
	// order, then live events. If events after SinceRV have been compacted
	// away, Watch fails with ErrExpired.
	SinceRV int64
}

// Watcher streams events until its context ends or Stop is called.
type Watcher interface {
	// Events is closed when the watch ends. Err tells why.
	Events() <-chan Event
	Stop()
	// Err is nil after Stop or context cancellation, ErrExpired if the watcher
	// fell too far behind, otherwise the failure.
	Err() error
}

// OpType is the kind of a batched write.
type OpType string

const (
	OpCreate OpType = "create"
	OpUpdate OpType = "update"
	OpDelete OpType = "delete"
)

// Op is one write of an atomic batch. Object carries the key and, for
// OpUpdate/OpDelete, an optional ResourceVersion precondition.
type Op struct {
	Type   OpType
	Object *Object
}

// Store is the persistence contract. All methods are safe for concurrent use.
type Store interface {
	// Create stores a new object; ErrAlreadyExists if the key is taken.
	Create(ctx context.Context, obj *Object) (*Object, error)
	// Update replaces an existing object; ErrNotFound, ErrConflict.
	Update(ctx context.Context, obj *Object) (*Object, error)
	// Delete removes an object, returning its last state with the deletion's
	// ResourceVersion. precondition 0 means unconditional.
	Delete(ctx context.Context, key Key, precondition int64) (*Object, error)
	// Batch applies ops atomically in order: all succeed or none does. The
	// error of the first failing op is returned wrapped in an *OpError.
	Batch(ctx context.Context, ops []Op) ([]*Object, error)
	Get(ctx context.Context, key Key) (*Object, error)
	List(ctx context.Context, opts ListOptions) (*ListResult, error)
	// Count returns how many objects match the filter.
	Count(ctx context.Context, f Filter) (int, error)
	Watch(ctx context.Context, opts WatchOptions) (Watcher, error)
	// CurrentRV is the highest committed resource version.
	CurrentRV(ctx context.Context) (int64, error)
	Close() error
}

// Options tune a backend. Zero values select defaults.
type Options struct {
	// EventRetention keeps events at least this long (default 15 minutes).
	EventRetention time.Duration
	// MinEvents keeps at least this many most recent events (default 10000).
	MinEvents int
	// PollInterval bounds how long a change made by another process takes to
	// reach watchers of this one (default 100ms).
	PollInterval time.Duration
}

var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrConflict      = errors.New("conflict: the object has been modified; read it again and retry")
	ErrExpired       = errors.New("resource version too old: the events were compacted; list again and watch from the new version")
	ErrInvalid       = errors.New("invalid request")
)

// OpError reports which op of a Batch failed.
type OpError struct {
	Index int
	Op    Op
	Err   error
}

func (e *OpError) Error() string {
	return "batch op " + string(e.Op.Type) + " " + e.Op.Object.Key().String() + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }
