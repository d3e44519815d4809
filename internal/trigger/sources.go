// Package trigger creates Builds when code changes: the git poller (one
// list and a watch of components, ls-remote per component), forge webhooks
// (push and pull request events, verified), and the first build of a new
// component. Commits of one application that arrive together are batched
// into one BuildGroup; a lone commit becomes one Build, pinned to the
// current artifacts of what its component requires (buildgroup).
//
//	poll / webhook push / new component ─► commit ─► batch (per application, BatchWindow)
//	   ├─ one component ─► Build <component>-<commit>
//	   └─ several ─────► BuildGroup <application>-batch-<hash>
//	webhook pull request ─► Build <component>-pr<N>-<head> (labelled pull_request)
package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/buildgroup"
	"github.com/kilnbuild/kiln/internal/controller"
	"github.com/kilnbuild/kiln/internal/git"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/webhook"
)

// DefaultPollInterval applies to components that do not set
// spec.build.pollInterval.
const DefaultPollInterval = 60 * time.Second

// Sources connects git to builds: the poller, the webhook handler and the
// first build of new components.
type Sources struct {
	reg      *registry.Registry
	creator  *creator
	cache    *git.Cache
	checkURL func(string) error
	log      *slog.Logger
	// hosts keeps first builds from fetching from a host that cannot be
	// reached, one git process per new component.
	hosts git.HostGate
}

// Options configure the triggers.
type Options struct {
	// Git fetches branch heads and pull request heads.
	Git *git.Cache
	// CheckURL rejects repositories the server may not read
	// (git.AllowedURLs); nil refuses file:// repositories.
	CheckURL func(string) error
	// Groups pins the current artifacts of what a triggered build's
	// component requires; nil pins nothing.
	Groups *buildgroup.Controller
	// BatchWindow is how long commits wait for others of the same
	// application to be built as one group; 0 or less: no batching.
	BatchWindow time.Duration
	// Leading, when set, reports whether this replica leads (the
	// controller manager's Leading): a webhook received by another replica
	// records the commit as the component's pendingCommit only, and the
	// leader batches it.
	Leading func() bool
	Log     *slog.Logger
}

// New returns the triggers writing through reg.
func New(reg *registry.Registry, opts Options) *Sources {
	if opts.CheckURL == nil {
		opts.CheckURL = git.AllowedURLs(false)
	}
	c := newCreator(reg, opts.Groups, opts.Log)
	c.leading = opts.Leading
	c.batchEvery(opts.BatchWindow)
	return &Sources{reg: reg, creator: c, cache: opts.Git, checkURL: opts.CheckURL, log: opts.Log}
}

// Poller returns the git poller over all components. It follows component
// events (one list, then a watch; a full list again every PollerResync)
// rather than listing every component each refresh.
func (s *Sources) Poller(home string) *git.Poller {
	feed := &componentFeed{reg: s.reg, watchOf: s.watchOf, resync: PollerResync, log: s.log}
	return &git.Poller{Home: home, Follow: feed.run, OnNewCommit: s.onPolledCommit, Log: s.log}
}

// watchOf is the poller's watch of c; false when c is not polled.
func (s *Sources) watchOf(c *v1alpha1.Component) (git.Watch, bool) {
	g := c.Spec.Source.Git
	interval := DefaultPollInterval
	if c.Spec.Build != nil && c.Spec.Build.PollInterval != nil {
		interval = c.Spec.Build.PollInterval.Duration
	}
	if g == nil || interval <= 0 || s.checkURL(g.URL) != nil || c.DeletionTimestamp != nil {
		return git.Watch{}, false
	}
	return git.Watch{Key: c.Namespace + "/" + c.Name, URL: g.URL, Branch: g.Revision,
		Interval: interval, LastSeen: c.Status.LastSeenCommit}, true
}

func (s *Sources) onPolledCommit(ctx context.Context, key, commit string) error {
	ns, name, _ := strings.Cut(key, "/")
	return s.creator.onCommit(ctx, ns, name, commit, "poll")
}

// Webhooks returns the forge webhook handler, to mount at /hooks/.
func (s *Sources) Webhooks() *webhook.Handler {
	return &webhook.Handler{Secrets: s.webhookSecrets, OnPush: s.onPush, OnPullRequest: s.onPullRequest, Log: s.log}
}

// webhookSecrets returns the secrets of every component of the repository.
func (s *Sources) webhookSecrets(ctx context.Context, repo string) ([]webhook.Secret, error) {
	all, err := registry.List[v1alpha1.Component](ctx, s.reg, registry.ListOptions{Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []webhook.Secret
	for _, c := range all {
		if g := c.Spec.Source.Git; g == nil || webhook.NormalizeURL(g.URL) != repo || c.Spec.Build == nil || c.Spec.Build.WebhookSecret == "" {
			continue
		}
		v, err := s.secretValue(ctx, c.Namespace, c.Spec.Build.WebhookSecret, "webhook-secret")
		if err != nil {
			s.log.Warn("webhook secret unusable", "component", c.Namespace+"/"+c.Name, "err", err)
			continue
		}
		out = append(out, webhook.Secret{Key: c.Namespace + "/" + c.Name, Value: v})
	}
	return out, nil
}

func (s *Sources) secretValue(ctx context.Context, ns, name, key string) ([]byte, error) {
	k, _ := v1alpha1.Lookup("Secret")
	obj, err := s.reg.Get(ctx, k, ns, name, registry.GetOptions{Reveal: true})
	if err != nil {
		return nil, err
	}
	v, ok := obj.(*v1alpha1.Secret).Data[key]
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("secret %s/%s has no %q key", ns, name, key)
	}
	return v, nil
}

// onPush acts on a verified push: only the components whose secret
// verified it, and only when their branch moved. The push is a hint: the
// branch head is fetched rather than taken from the payload.
func (s *Sources) onPush(ctx context.Context, ev webhook.PushEvent) error {
	comps, err := s.verified(ctx, ev.VerifiedBy, ev.Branch)
	if err != nil || ev.Deleted {
		return err
	}
	for _, c := range comps {
		g := c.Spec.Source.Git
		commit, err := s.cache.Fetch(ctx, g.URL, g.Revision)
		if err != nil {
			return fmt.Errorf("fetching %s after a push: %w", git.Redact(g.URL), err)
		}
		if err := s.creator.onCommit(ctx, c.Namespace, c.Name, commit, "webhook:"+ev.Forge); err != nil {
			return err
		}
	}
	return nil
}

// verified returns the components named by keys ("namespace/name", the
// secrets that verified a delivery) that build branch.
func (s *Sources) verified(ctx context.Context, keys []string, branch string) ([]*v1alpha1.Component, error) {
	var out []*v1alpha1.Component
	for _, key := range keys {
		ns, name, _ := strings.Cut(key, "/")
		c, err := registry.Get[v1alpha1.Component](ctx, s.reg, ns, name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if g := c.Spec.Source.Git; g != nil && branch != "" && branch == g.Revision {
			out = append(out, c)
		}
	}
	return out, nil
}

// onPullRequest builds a verified pull request's head for the components
// whose branch is its target branch. Unlike a push, the head commit is
// taken from the payload (and fetched): the pull request's builds are named
// after it, so a redelivery builds nothing new.
// forkAllowed reports whether a fork's pull request by author is built.
func forkAllowed(c *v1alpha1.Component, author string) bool {
	if c.Spec.Build == nil {
		return false
	}
	for _, a := range c.Spec.Build.PullRequestAuthors {
		if a == "*" || (author != "" && strings.EqualFold(a, author)) {
			return true
		}
	}
	return false
}

func (s *Sources) onPullRequest(ctx context.Context, ev webhook.PullRequestEvent) error {
	comps, err := s.verified(ctx, ev.VerifiedBy, ev.BaseRef)
	if err != nil {
		return err
	}
	for _, c := range comps {
		if ev.Fork && !forkAllowed(c, ev.Author) {
			s.log.Info("pull request from a fork not built: its author is not in spec.build.pullRequestAuthors",
				"component", c.Namespace+"/"+c.Name, "number", ev.Number, "author", ev.Author)
			continue
		}
		commit, err := s.fetchPullRequest(ctx, c.Spec.Source.Git.URL, ev)
		if err != nil {
			return err
		}
		pr := PullRequest{Number: ev.Number, Commit: commit, HeadRef: ev.HeadRef}
		if err := s.creator.onPullRequest(ctx, c.Namespace, c.Name, pr, "webhook:"+ev.Forge); err != nil {
			return err
		}
	}
	return nil
}

// fetchPullRequest brings a pull request's head into the mirror: by its
// commit, or, when the remote does not serve a commit by hash (or the
// head is in a fork), by the ref the forge keeps for the pull request
// (refs/pull/N/head, GitLab's refs/merge-requests/N/head). It returns the
// commit fetched, which may be newer than ev's when the head moved since.
func (s *Sources) fetchPullRequest(ctx context.Context, url string, ev webhook.PullRequestEvent) (string, error) {
	commit, err := s.cache.Fetch(ctx, url, ev.HeadSHA)
	if err == nil {
		return commit, nil
	}
	commit, refErr := s.cache.Fetch(ctx, url, ev.HeadRefName())
	if refErr != nil {
		return "", fmt.Errorf("fetching pull request #%d of %s: by commit: %w; by ref: %w", ev.Number, git.Redact(url), err, refErr)
	}
	if commit != ev.HeadSHA {
		s.log.Info("pull request head moved since the event", "repo", git.Redact(url), "number", ev.Number,
			"event", ev.HeadSHA, "fetched", commit)
	}
	return commit, nil
}

// Register adds the controller that builds new components at once
// instead of waiting for the first poll.
func (s *Sources) Register(m *controller.Manager) {
	m.Register("component-first-build", controller.For(m.Registry(), s.firstBuild), controller.Options{Workers: 2},
		controller.Source{Kind: "Component"})
}

func (s *Sources) firstBuild(ctx context.Context, c *v1alpha1.Component) (controller.Result, error) {
	g := c.Spec.Source.Git
	if p := c.Status.PendingCommit; p != "" && p != c.Status.LastSeenCommit && c.DeletionTimestamp == nil {
		// A commit batched but not built before a restart.
		return controller.Result{}, s.creator.onCommit(ctx, c.Namespace, c.Name, p, byPending)
	}
	if c.Status.LastSeenCommit != "" || c.Status.BuildCounter > 0 || g == nil || c.DeletionTimestamp != nil || s.checkURL(g.URL) != nil {
		return controller.Result{}, nil
	}
	commit, res, err := s.fetchFirst(ctx, c)
	if commit == "" {
		return res, err
	}
	return controller.Result{}, s.creator.onCommit(ctx, c.Namespace, c.Name, commit, "new-component")
}

// fetchFirst fetches the head of c's branch for its first build, unless
// c's host cannot be reached (see git.HostGate): then a polled component
// is left to the poller, which reports its first head once the host
// answers, and any other is retried after the host's back-off. commit is
// "" when there is nothing to build now.
func (s *Sources) fetchFirst(ctx context.Context, c *v1alpha1.Component) (string, controller.Result, error) {
	g := c.Spec.Source.Git
	_, polled := s.watchOf(c)
	if wait, ok := s.hosts.Allow(g.URL); !ok {
		if polled {
			return "", controller.Result{}, nil
		}
		return "", controller.Result{RequeueAfter: wait}, nil
	}
	commit, err := s.cache.Fetch(ctx, g.URL, g.Revision)
	s.hosts.Record(g.URL, err)
	if err != nil && !(polled && git.Unreachable(err)) {
		return "", controller.Result{}, fmt.Errorf("first build of %s/%s: %w", c.Namespace, c.Name, err)
	}
	return commit, controller.Result{}, nil
}
