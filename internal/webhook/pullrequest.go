package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// PullRequestEvent is a pull request (GitLab: merge request) that was
// opened, reopened or got new commits, the same whichever forge sent it.
type PullRequestEvent struct {
	// Forge is "github", "gitlab", "forgejo" or "gitea".
	Forge string `json:"forge"`
	// Delivery is the forge's delivery id, for logs; may be empty.
	Delivery string `json:"delivery,omitempty"`
	// Action is the forge's action, as sent: opened, synchronize(d) or
	// reopened (GitLab: open, update, reopen), or another one ParsePullRequest
	// does not filter.
	Action string `json:"action"`
	// RepoURLs are the addresses of the repository the pull request is
	// for (the base, whose secrets verify the delivery).
	RepoURLs []string `json:"repoURLs"`
	// Number is the pull request's number (GitLab: the merge request's iid).
	Number int `json:"number"`
	// HeadSHA is the commit at the head of the pull request.
	HeadSHA string `json:"headSHA"`
	// HeadRef is the source branch, BaseRef the target branch (names,
	// without refs/heads/).
	HeadRef string `json:"headRef"`
	BaseRef string `json:"baseRef"`
	// Fork is true when the head branch lives in another repository.
	Fork bool `json:"fork"`
	// Author is the forge user who opened the pull request, else the
	// sender of the event.
	Author string `json:"author,omitempty"`
	// VerifiedBy are the keys of the secrets that verified the delivery.
	VerifiedBy []string `json:"verifiedBy,omitempty"`
}

// HeadRefName is the ref under which the base repository serves the pull
// request's head: refs/merge-requests/N/head on GitLab, refs/pull/N/head
// elsewhere.
func (ev PullRequestEvent) HeadRefName() string {
	if ev.Forge == "gitlab" {
		return "refs/merge-requests/" + strconv.Itoa(ev.Number) + "/head"
	}
	return "refs/pull/" + strconv.Itoa(ev.Number) + "/head"
}

// buildActions are the actions that put a new head up for review.
var buildActions = map[string][]string{
	"gitlab": {"open", "update", "reopen"},
	"other":  {"opened", "synchronize", "synchronized", "reopened"}, // Gitea/Forgejo say synchronized
}

// newHead reports whether action (of forge) opens a pull request or moves
// its head.
func newHead(forge, action string) bool {
	if forge != "gitlab" {
		forge = "other"
	}
	return slices.Contains(buildActions[forge], action)
}

// branchJSON is a pull request's head or base.
type branchJSON struct {
	Ref  string `json:"ref"`
	SHA  string `json:"sha"`
	Repo *struct {
		FullName string `json:"full_name"`
	} `json:"repo"`
}

func (b branchJSON) repoName() string {
	if b.Repo == nil {
		return ""
	}
	return b.Repo.FullName
}

type userJSON struct {
	Login    string `json:"login"`
	Username string `json:"username"`
}

// prPayload is the union of the fields Kiln reads from the pull request
// events of GitHub and Forgejo/Gitea and GitLab's merge request events,
// decoded only for those events.
type prPayload struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number int        `json:"number"`
		Head   branchJSON `json:"head"`
		Base   branchJSON `json:"base"`
		User   userJSON   `json:"user"`
	} `json:"pull_request"`
	ObjectAttributes *struct { // gitlab
		IID             int    `json:"iid"`
		Action          string `json:"action"`
		SourceBranch    string `json:"source_branch"`
		TargetBranch    string `json:"target_branch"`
		SourceProjectID int64  `json:"source_project_id"`
		TargetProjectID int64  `json:"target_project_id"`
		LastCommit      struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
	User   userJSON `json:"user"` // gitlab
	Sender userJSON `json:"sender"`
}

func decodePR(doc []byte) (*prPayload, error) {
	var p prPayload
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	return &p, nil
}

// action is the event's action, whichever forge sent it.
func (p *prPayload) action() string {
	if p.ObjectAttributes != nil {
		return p.ObjectAttributes.Action
	}
	return p.Action
}

// ParsePullRequest reads the body of a pull request event of forge
// ("github", "forgejo", "gitea": a pull_request event; "gitlab": a merge
// request hook). Any action is accepted; the Handler passes on only the
// ones that open a pull request or move its head.
func ParsePullRequest(forge string, body []byte) (PullRequestEvent, error) {
	p, err := decode(body)
	if err != nil {
		return PullRequestEvent{}, err
	}
	pr, err := decodePR(body)
	if err != nil {
		return PullRequestEvent{}, err
	}
	return pullRequest(forge, p, pr)
}

func pullRequest(forge string, p *payload, pr *prPayload) (PullRequestEvent, error) {
	ev := PullRequestEvent{Forge: forge, Action: pr.action(), RepoURLs: p.repoURLs()}
	switch {
	case forge == "gitlab" && pr.ObjectAttributes != nil:
		oa := pr.ObjectAttributes
		ev.Number, ev.HeadSHA, ev.HeadRef, ev.BaseRef = oa.IID, oa.LastCommit.ID, oa.SourceBranch, oa.TargetBranch
		ev.Fork = oa.SourceProjectID != oa.TargetProjectID
		ev.Author = pr.User.Username
	case forge != "gitlab" && pr.PullRequest != nil:
		h, b := pr.PullRequest.Head, pr.PullRequest.Base
		ev.Number, ev.HeadSHA, ev.HeadRef, ev.BaseRef = pr.Number, h.SHA, h.Ref, b.Ref
		if ev.Number == 0 {
			ev.Number = pr.PullRequest.Number
		}
		ev.Fork = h.repoName() != b.repoName()
		ev.Author = firstOf(pr.PullRequest.User.Login, pr.PullRequest.User.Username, pr.Sender.Login, pr.Sender.Username)
	default:
		return PullRequestEvent{}, errors.New("pull request event without pull request")
	}
	return ev, ev.check()
}

func (ev PullRequestEvent) check() error {
	switch {
	case ev.Number <= 0:
		return errors.New("pull request event without a number")
	case len(ev.RepoURLs) == 0:
		return errors.New("pull request event without repository")
	case ev.BaseRef == "" || ev.HeadRef == "":
		return errors.New("pull request event without source or target branch")
	case !commitRE.MatchString(ev.HeadSHA):
		return fmt.Errorf("pull request event: head %q is not a commit hash", ev.HeadSHA)
	}
	return nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
