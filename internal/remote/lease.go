package remote

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/registry"
)

// The lease on the build (status.lease) is the fence: every change to it
// is a status update with the store's optimistic concurrency, checked
// against the generation the writer believes current, so two writers (two
// replicas, a late worker) can never both hold a build.

// acquire writes a new lease generation for worker name on the running
// attempt a, and returns the generation.
func (p *Pool) acquire(ctx context.Context, a *assignment, name string) (int64, error) {
	var gen int64
	now := metav1.NewMicroTime(p.Now())
	attempt := a.job.Build.Status.Attempts
	_, err := registry.UpdateStatus(ctx, p.Reg, a.key.ns, a.key.name, func(b *v1alpha1.Build) error {
		if b.Status.Phase != v1alpha1.BuildRunning || b.Status.Attempts != attempt || b.Spec.Cancel {
			return fmt.Errorf("build %s/%s is no longer this attempt's (%s, attempt %d)", a.key.ns, a.key.name, b.Status.Phase, b.Status.Attempts)
		}
		if l := b.Status.Lease; l.Live(now.Time) {
			return fmt.Errorf("build %s/%s is leased to worker %s until %s", a.key.ns, a.key.name, l.Holder, l.Expiry().Format(time.RFC3339Nano))
		}
		gen = 1
		if b.Status.Lease != nil {
			gen = b.Status.Lease.Generation + 1
		}
		b.Status.Lease = &v1alpha1.BuildLease{Holder: name, Platform: a.platform, Generation: gen,
			AcquireTime: &now, RenewTime: &now, DurationSeconds: p.LeaseDuration.Seconds()}
		return nil
	})
	return gen, err
}

// renewStored moves the lease's renew time to now, if the build's lease
// is still generation gen and alive.
func (p *Pool) renewStored(ctx context.Context, a *assignment, gen int64, now time.Time) error {
	_, err := registry.UpdateStatus(ctx, p.Reg, a.key.ns, a.key.name, func(b *v1alpha1.Build) error {
		l := b.Status.Lease
		if l == nil || l.Generation != gen || !l.Live(now) {
			return fmt.Errorf("%w: the build's lease is no longer generation %d", errNotHeld, gen)
		}
		t := metav1.NewMicroTime(now)
		l.RenewTime = &t
		return nil
	})
	return err
}

// release marks the lease of generation gen ended on the build.
func (p *Pool) release(ctx context.Context, a *assignment) {
	_, err := registry.UpdateStatus(ctx, p.Reg, a.key.ns, a.key.name, func(b *v1alpha1.Build) error {
		if l := b.Status.Lease; l != nil && l.Generation == a.gen {
			l.Released = true
		}
		return nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		p.Log.Warn("releasing a build lease", "build", a.key.ns+"/"+a.key.name, "generation", a.gen, "err", err)
	}
}

// recordLost records on the build that a's worker lost its lease.
func (p *Pool) recordLost(ctx context.Context, a *assignment, retry bool) {
	msg := fmt.Sprintf("worker %s stopped renewing its lease (generation %d) and lost it at %s", a.worker, a.gen, a.expires.UTC().Format(time.RFC3339))
	reason := "LeaseExpiredRetried"
	if retry {
		msg += "; retried once on another worker"
	} else {
		reason, msg = "LeaseExpiredAgain", msg+"; a second loss: not retried again"
	}
	_, err := registry.UpdateStatus(ctx, p.Reg, a.key.ns, a.key.name, func(b *v1alpha1.Build) error {
		meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionWorkerLost,
			Status: metav1.ConditionTrue, Reason: reason, Message: msg, ObservedGeneration: b.Generation})
		return nil
	})
	if err != nil {
		p.Log.Error("recording a lost worker on the build", "build", a.key.ns+"/"+a.key.name, "err", err)
	}
	p.Log.Warn("remote worker lost its lease", "build", a.key.ns+"/"+a.key.name, "worker", a.worker, "generation", a.gen, "retry", retry)
}

// issueToken creates the push token of lease generation gen: it may push
// to the build's repository (and below) and pull in its namespace, and is
// deleted when the lease ends (it also expires on its own).
func (p *Pool) issueToken(ctx context.Context, a *assignment, gen int64) (string, string, error) {
	name, token, err := auth.NewToken()
	if err != nil {
		return "", "", err
	}
	_, secret, _ := auth.ParseToken(token)
	exp := metav1.NewTime(p.Now().Add(p.tokenLifetime()))
	tok := &v1alpha1.Token{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.TokenSpec{
		Subject:     v1alpha1.BuildSubject(a.key.ns, a.key.name),
		Description: fmt.Sprintf("push token of build %s/%s, lease generation %d", a.key.ns, a.key.name, gen),
		Hash:        auth.HashSecret(secret), ExpiresAt: &exp,
		Scope: &v1alpha1.TokenScope{Namespace: a.key.ns, Build: a.key.name, Generation: gen, Repository: a.task.Repository},
	}}
	if _, err := p.Reg.Create(ctx, registry.KindFor[v1alpha1.Token](), tok, registry.CreateOptions{}); err != nil {
		return "", "", fmt.Errorf("issuing the push token of build %s/%s: %w", a.key.ns, a.key.name, err)
	}
	return name, token, nil
}

// tokenLifetime is how long a push token lasts unless its lease is
// renewed: it bounds a token that outlives its lease by accident (a server
// killed before it deleted it). Renewals extend it.
func (p *Pool) tokenLifetime() time.Duration { return max(20*p.LeaseDuration, 2*time.Minute) }

// extendToken moves a push token's expiry to exp.
func (p *Pool) extendToken(ctx context.Context, name string, exp time.Time) {
	k := registry.KindFor[v1alpha1.Token]()
	obj, err := p.Reg.Get(ctx, k, "", name, registry.GetOptions{})
	if err != nil {
		return // revoked meanwhile
	}
	tok := obj.(*v1alpha1.Token)
	t := metav1.NewTime(exp)
	tok.Spec.ExpiresAt = &t
	if _, err := p.Reg.Update(ctx, k, tok, registry.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		p.Log.Warn("extending a build push token", "token", name, "err", err)
	}
}

// revoke deletes a push token and drops cached identities, so the
// registry refuses it at once.
func (p *Pool) revoke(ctx context.Context, name string) {
	if name == "" {
		return
	}
	_, _, err := p.Reg.Delete(ctx, registry.KindFor[v1alpha1.Token](), "", name, registry.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		p.Log.Error("revoking a build push token", "token", name, "err", err)
	}
	if p.Authn != nil {
		p.Authn.Forget()
	}
}
