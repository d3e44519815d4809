package git

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Credentials reach a private repository. The zero value is anonymous
// access. A Token is used for http(s) remotes only, an SSHKeyFile for ssh
// remotes (ssh:// and user@host:path) only.
type Credentials struct {
	// Username goes with Token; empty means "x-access-token", which GitHub
	// expects for app and fine-grained tokens. GitLab accepts "oauth2" or
	// any name with a personal access token, Forgejo and Gitea any name.
	Username string
	// Token is a personal access token or password for https.
	Token string
	// SSHKeyFile is the path of a private key (mode 0600, no passphrase).
	SSHKeyFile string
}

// Environment variables the askpass helper reads. They exist only in the
// environment of the git process and its children.
const (
	envAskUser = "KILN_GIT_USERNAME"
	envAskPass = "KILN_GIT_PASSWORD"
)

const askpassScript = `#!/bin/sh
# Written by Kiln: answers git's credential prompts from the environment.
case "$1" in
Username*) printf '%s\n' "$` + envAskUser + `" ;;
*) printf '%s\n' "$` + envAskPass + `" ;;
esac
`

// IsZero reports whether c is anonymous access.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// fingerprint identifies credentials without revealing them; mirrors
// fetched with different credentials are kept apart.
func (c Credentials) fingerprint() string {
	if c.IsZero() {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q", c.Username, c.Token, c.SSHKeyFile)
	return hex.EncodeToString(h.Sum(nil))
}

func (r runner) usesHTTP() bool {
	return strings.HasPrefix(r.url, "https://") || strings.HasPrefix(r.url, "http://")
}

func (r runner) sshKey() string {
	if r.usesHTTP() || strings.HasPrefix(r.url, "file://") {
		return ""
	}
	return r.creds.SSHKeyFile
}

// appendTokenEnv adds the askpass helper and the token for http(s)
// remotes with a token.
func (r runner) appendTokenEnv(env []string) ([]string, error) {
	if r.creds.Token == "" || !r.usesHTTP() {
		return env, nil
	}
	helper, err := writeAskpass(r.home)
	if err != nil {
		return nil, err
	}
	user := r.creds.Username
	if user == "" {
		user = "x-access-token"
	}
	return append(env, "GIT_ASKPASS="+helper, envAskUser+"="+user, envAskPass+"="+r.creds.Token), nil
}

// writeAskpass writes the (secret-free) askpass helper under home once.
func writeAskpass(home string) (string, error) {
	p := filepath.Join(home, "askpass.sh")
	if b, err := os.ReadFile(p); err == nil && string(b) == askpassScript {
		return p, nil
	}
	tmp, err := os.CreateTemp(home, ".askpass-*")
	if err != nil {
		return "", fmt.Errorf("writing askpass helper: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(askpassScript); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing askpass helper: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing askpass helper: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o700); err != nil {
		return "", fmt.Errorf("writing askpass helper: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("writing askpass helper: %w", err)
	}
	return p, nil
}

// sshCommand is GIT_SSH_COMMAND: no user or system ssh config, no agent,
// no default keys, never a prompt, new host keys accepted and remembered
// under home, changed ones refused.
func sshCommand(home, keyFile string) string {
	args := []string{"ssh", "-F", "/dev/null",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=accept-new",
		"-o", "UserKnownHostsFile=" + shellQuote(filepath.Join(home, "known_hosts")),
		"-o", "IdentityAgent=none",
		"-o", "IdentitiesOnly=yes",
	}
	if keyFile == "" {
		args = append(args, "-o", "IdentityFile=none")
	} else {
		args = append(args, "-i", shellQuote(keyFile))
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for sh, which interprets GIT_SSH_COMMAND.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
