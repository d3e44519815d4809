package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// PushEvent is a push to a repository, the same whichever forge sent it.
type PushEvent struct {
	// Forge is "github", "gitlab", "forgejo" or "gitea".
	Forge string `json:"forge"`
	// Delivery is the forge's delivery id, for logs; may be empty.
	Delivery string `json:"delivery,omitempty"`
	// RepoURLs are the repository's addresses the payload gives (web,
	// https clone, ssh clone...), as sent; see NormalizeURL.
	RepoURLs []string `json:"repoURLs"`
	// Ref is the full ref pushed, e.g. refs/heads/main or refs/tags/v1.
	Ref string `json:"ref"`
	// Branch is Ref's branch name, or empty for a tag; Tag the reverse.
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	// Before and After are the commits before and after the push.
	Before string `json:"before"`
	After  string `json:"after"`
	// Commits is the number of commits pushed (as the forge counts them).
	Commits int `json:"commits"`
	// Pusher is the forge user who pushed.
	Pusher string `json:"pusher"`
	// Deleted is true when the push deleted Ref (After is all zeros).
	Deleted bool `json:"deleted"`
	// VerifiedBy are the keys of the secrets that verified the delivery:
	// only the Components these belong to should act on it.
	VerifiedBy []string `json:"verifiedBy,omitempty"`
}

// repoJSON holds the address fields of a repository object of any forge.
type repoJSON struct {
	HTMLURL    string `json:"html_url"`
	WebURL     string `json:"web_url"`
	Homepage   string `json:"homepage"`
	CloneURL   string `json:"clone_url"`
	HTTPURL    string `json:"http_url"`
	GitHTTPURL string `json:"git_http_url"`
	SSHURL     string `json:"ssh_url"`
	GitSSHURL  string `json:"git_ssh_url"`
	GitURL     string `json:"git_url"`
	URL        string `json:"url"`
}

// payload is the union of the fields Kiln reads from the push events of
// GitHub, GitLab and Forgejo/Gitea.
type payload struct {
	ObjectKind        string     `json:"object_kind"` // gitlab
	Ref               string     `json:"ref"`
	Before            string     `json:"before"`
	After             string     `json:"after"`
	Deleted           bool       `json:"deleted"` // github
	Commits           []struct{} `json:"commits"`
	TotalCommits      int        `json:"total_commits"`       // forgejo, gitea
	TotalCommitsCount int        `json:"total_commits_count"` // gitlab
	Pusher            struct {
		Login    string `json:"login"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"pusher"`
	UserUsername string    `json:"user_username"` // gitlab
	UserName     string    `json:"user_name"`     // gitlab
	Repository   *repoJSON `json:"repository"`
	Project      *repoJSON `json:"project"` // gitlab
}

func decode(body []byte) (*payload, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	return &p, nil
}

// repoURLs lists the repository's addresses, without API endpoints.
func (p *payload) repoURLs() []string {
	var urls []string
	for _, r := range []*repoJSON{p.Project, p.Repository} {
		if r == nil {
			continue
		}
		for _, u := range []string{r.HTMLURL, r.WebURL, r.CloneURL, r.HTTPURL, r.GitHTTPURL,
			r.SSHURL, r.GitSSHURL, r.GitURL, r.URL, r.Homepage} {
			if u != "" && !isAPIURL(u) && !slices.Contains(urls, u) {
				urls = append(urls, u)
			}
		}
	}
	return urls
}

func isAPIURL(u string) bool {
	n := NormalizeURL(u)
	return strings.HasPrefix(n, "api.") || strings.Contains(n, "/api/v")
}

var (
	commitRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	zeroRE   = regexp.MustCompile(`^0+$`)
)

// ParsePush reads the body of a push event of forge ("github", "gitlab",
// "forgejo" or "gitea"). Tag pushes are push events too (Tag set, Branch
// empty).
func ParsePush(forge string, body []byte) (PushEvent, error) {
	p, err := decode(body)
	if err != nil {
		return PushEvent{}, err
	}
	return p.push(forge)
}

func (p *payload) push(forge string) (PushEvent, error) {
	ev := PushEvent{Forge: forge, RepoURLs: p.repoURLs(), Ref: p.Ref, Before: p.Before, After: p.After,
		Commits: p.commits(), Pusher: p.pusher(), Deleted: p.Deleted || zeroRE.MatchString(p.After)}
	ev.Branch, _ = strings.CutPrefix(p.Ref, "refs/heads/")
	if ev.Branch == p.Ref {
		ev.Branch = ""
	}
	if tag, ok := strings.CutPrefix(p.Ref, "refs/tags/"); ok {
		ev.Tag = tag
	}
	switch {
	case ev.Ref == "":
		return PushEvent{}, errors.New("push event without ref")
	case len(ev.RepoURLs) == 0:
		return PushEvent{}, errors.New("push event without repository")
	case !commitRE.MatchString(ev.After):
		return PushEvent{}, fmt.Errorf("push event: after %q is not a commit hash", ev.After)
	}
	return ev, nil
}

func (p *payload) commits() int {
	switch {
	case p.TotalCommitsCount > 0:
		return p.TotalCommitsCount
	case p.TotalCommits > 0:
		return p.TotalCommits
	}
	return len(p.Commits)
}

func (p *payload) pusher() string {
	for _, s := range []string{p.Pusher.Login, p.Pusher.Username, p.UserUsername, p.Pusher.Name, p.UserName} {
		if s != "" {
			return s
		}
	}
	return ""
}
