// Package lease is Kiln's coordination primitive between processes sharing
// one database: named leases with a holder, an expiry and a fencing token.
//
// Two uses are built on it:
//
//   - leadership: every `kiln up` replica campaigns for one lease
//     (LeaderLease); the holder runs the singleton controllers (batching,
//     group planning, scheduling, snapshots, tests, releases, garbage
//     collection, the git poller) — see Elector;
//   - claims: a build is run by whoever holds its claim (ClaimName), a
//     replica or a remote worker, renewed while it runs — a replica renews
//     all of its claims in one statement (Session), a single lease can be
//     kept with Hold or Keep; a build whose claim is alive is never taken
//     over.
//
// Expiry is judged by the database's clock only (the SQL implementation
// compares expiry with the database's now()), so clock skew between
// replicas does not matter. A holder stops trusting its lease at its own
// monotonic deadline (the time it sent the request that last extended the
// lease + TTL), which is never later than the database's expiry: a holder
// that cannot renew (partition, a pause longer than the TTL) stops before
// another can acquire. The token grows every time the lease changes
// holder (or is acquired again after it expired), so a write fenced by
// the token of the lease it was decided under fails once someone else
// took it (builds use their attempt number, stored in the Build itself, for
// the same purpose).
//
// Implementations: internal/store/sqlstore (SQLite and PostgreSQL, a table
// beside the objects). Every implementation passes leasetest.Run.
package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Lease is the state of one named lease as the store saw it.
type Lease struct {
	Name   string
	Holder string
	// Token grows whenever the lease is (re)acquired by anyone after it
	// was free or expired; renewals keep it.
	Token int64
	// Expires is the expiry by the store's clock (for display only:
	// compare nothing with the local clock).
	Expires time.Time
	// Alive reports whether the lease had not expired when it was read.
	Alive bool
}

// Request asks for a lease.
type Request struct {
	Name   string
	Holder string
	TTL    time.Duration
	// Supersede, when non-zero, is the token of a lease the caller knows to
	// be dead although it has not expired (an earlier incarnation of the
	// same replica): it is taken as if it had expired.
	Supersede int64
}

// Store keeps leases. All methods are safe for concurrent use, and the
// implementation must be shared by every process that competes.
type Store interface {
	// Acquire takes the lease for r.Holder when it is free, expired,
	// already r.Holder's (then it is renewed), or superseded. Otherwise it
	// fails with an error satisfying errors.Is(err, ErrHeld) that names
	// the holder.
	Acquire(ctx context.Context, r Request) (Lease, error)
	// Renew extends l by ttl if l's holder still holds it with l's token
	// (even if it expired meanwhile, as long as nobody took it); else
	// ErrLost.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release lets the lease go at once (others may acquire it); a lease
	// no longer held with l's token is left alone.
	Release(ctx context.Context, l Lease) error
	// Get reads a lease; ErrNotFound if it was never acquired.
	Get(ctx context.Context, name string) (Lease, error)
}

var (
	ErrHeld     = errors.New("lease held by another holder")
	ErrLost     = errors.New("lease lost: another holder took it")
	ErrNotFound = errors.New("lease not found")
)

// Validate checks a request.
func (r Request) Validate() error {
	switch {
	case r.Name == "":
		return errors.New("lease request: empty name")
	case r.Holder == "":
		return fmt.Errorf("lease %s: empty holder", r.Name)
	case r.TTL < time.Millisecond:
		return fmt.Errorf("lease %s: ttl %v is below 1ms", r.Name, r.TTL)
	}
	return nil
}

// HeldError is returned by Acquire when someone else holds the lease.
type HeldError struct{ Current Lease }

func (e *HeldError) Error() string {
	return fmt.Sprintf("lease %s is held by %s (token %d)", e.Current.Name, e.Current.Holder, e.Current.Token)
}

// Is makes errors.Is(err, ErrHeld) hold.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// LeaderLease is the lease whose holder runs the singleton controllers.
const LeaderLease = "kiln/leader"

// ClaimName is the lease of one build's run.
func ClaimName(namespace, build string) string { return "build/" + namespace + "/" + build }

// Holder ids are "<replica>#<incarnation>": the replica is stable across
// restarts (chosen by the operator or derived from the host and data
// directory), the incarnation is new at every start.

// HolderID joins a replica id and an incarnation.
func HolderID(replica, incarnation string) string { return replica + "#" + incarnation }

// Replica is the replica part of a holder id.
func Replica(holder string) string {
	r, _, _ := strings.Cut(holder, "#")
	return r
}

// EarlierIncarnation reports whether holder is another incarnation of the
// replica of me: a process that ran with the same replica id before this
// one started, which a replica only ever runs one of, so it is dead.
func EarlierIncarnation(holder, me string) bool {
	return holder != me && Replica(holder) == Replica(me) && strings.Contains(holder, "#")
}
