package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// forge knows one forge's headers and how it signs deliveries.
type forge struct {
	name        string
	sigHeaders  []string // the first present one is used
	eventHeader []string
	deliveryHdr []string
	// verify reports whether sig (the header's value) proves body was
	// sent with secret.
	verify func(sig string, body, secret []byte) bool
}

var forges = map[string]*forge{
	"github": {
		name: "github", sigHeaders: []string{"X-Hub-Signature-256"},
		eventHeader: []string{"X-GitHub-Event"}, deliveryHdr: []string{"X-GitHub-Delivery"},
		verify: verifyPrefixedHMAC,
	},
	"gitlab": {
		name: "gitlab", sigHeaders: []string{"X-Gitlab-Token"},
		eventHeader: []string{"X-Gitlab-Event"}, deliveryHdr: []string{"X-Gitlab-Event-UUID"},
		verify: verifyToken,
	},
	"forgejo": {
		name: "forgejo", sigHeaders: []string{"X-Forgejo-Signature", "X-Gitea-Signature", "X-Hub-Signature-256"},
		eventHeader: []string{"X-Forgejo-Event", "X-Gitea-Event"}, deliveryHdr: []string{"X-Forgejo-Delivery", "X-Gitea-Delivery"},
		verify: verifyHexHMAC,
	},
	"gitea": {
		name: "gitea", sigHeaders: []string{"X-Gitea-Signature", "X-Hub-Signature-256"},
		eventHeader: []string{"X-Gitea-Event"}, deliveryHdr: []string{"X-Gitea-Delivery"},
		verify: verifyHexHMAC,
	},
}

// header returns the first of names present in h, and its name.
func header(h http.Header, names []string) (value, name string) {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v, n
		}
	}
	return "", names[0]
}

// Sign returns the hex HMAC-SHA256 of body under secret: the value of
// X-Gitea-Signature and X-Forgejo-Signature, and of X-Hub-Signature-256
// after "sha256=".
func Sign(body, secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// verifyHexHMAC checks a hex HMAC-SHA256 (Forgejo and Gitea), also
// accepting GitHub's "sha256=" form they send as X-Hub-Signature-256.
func verifyHexHMAC(sig string, body, secret []byte) bool {
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(sig), "sha256="))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// verifyPrefixedHMAC checks GitHub's "sha256=<hex HMAC-SHA256>".
func verifyPrefixedHMAC(sig string, body, secret []byte) bool {
	if !strings.HasPrefix(sig, "sha256=") {
		return false
	}
	return verifyHexHMAC(sig, body, secret)
}

// verifyToken checks GitLab's X-Gitlab-Token, which is the secret itself.
// Comparing digests keeps the time independent of where the values differ
// and of the secret's length.
func verifyToken(token string, _, secret []byte) bool {
	a, b := sha256.Sum256([]byte(token)), sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
