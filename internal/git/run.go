package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Options configure how git reaches a remote.
type Options struct {
	Credentials
	// Home is git's HOME: it holds the askpass helper and the ssh
	// known_hosts file. Empty: a directory created once per process under
	// os.TempDir() (so ssh host keys are forgotten on restart; a Cache
	// keeps them under its Dir).
	Home string
}

// runner runs git for one remote with a minimal environment.
type runner struct {
	home  string
	url   string
	creds Credentials
}

var (
	defaultHomeOnce sync.Once
	defaultHome     string
	defaultHomeErr  error
)

func newRunner(url string, o Options) (runner, error) {
	home := o.Home
	if home == "" {
		defaultHomeOnce.Do(func() { defaultHome, defaultHomeErr = os.MkdirTemp("", "kiln-git-") })
		if defaultHomeErr != nil {
			return runner{}, fmt.Errorf("creating git home: %w", defaultHomeErr)
		}
		home = defaultHome
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return runner{}, fmt.Errorf("creating git home: %w", err)
	}
	return runner{home: home, url: url, creds: o.Credentials}, nil
}

// passEnv are variables git needs from Kiln's own environment to reach the
// network as the host is set up to (proxies, certificates, temp dir).
var passEnv = []string{
	"PATH", "TMPDIR", "LANG",
	"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_EXEC_PATH",
}

// allowedProtocols are the transports git may use, also for redirects and
// submodules; "ext::" and the like stay refused.
const allowedProtocols = "https:http:ssh:git:file"

// env is the complete environment of a git process.
func (r runner) env() ([]string, error) {
	env := []string{
		"HOME=" + r.home,
		"XDG_CONFIG_HOME=" + r.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ALLOW_PROTOCOL=" + allowedProtocols,
		"GIT_SSH_COMMAND=" + sshCommand(r.home, r.sshKey()),
		"LC_ALL=C",
	}
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return r.appendTokenEnv(env)
}

// command builds a git command run in dir ("" for none).
func (r runner) command(ctx context.Context, dir string, args ...string) (*exec.Cmd, error) {
	env, err := r.env()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	setProcessGroup(cmd)
	return cmd, nil
}

// run runs git and returns its standard output; a failure carries git's
// standard error, classified (see classify).
func (r runner) run(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd, err := r.command(ctx, dir, args...)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, r.failure(ctx, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// failure turns a failed git run into an error a user can act on.
func (r runner) failure(ctx context.Context, err error, stderr string) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("git timed out or was cancelled: %w", ctxErr)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("running git: %w", err)
	}
	return classify(r.scrub(stderr))
}

// scrub removes the token from text that may be shown or logged.
func (r runner) scrub(s string) string {
	if r.creds.Token == "" {
		return s
	}
	return strings.ReplaceAll(s, r.creds.Token, "<redacted>")
}

// Errors a remote operation can wrap; test with errors.Is.
var (
	ErrRepoNotFound = errors.New("repository not found")
	ErrAuth         = errors.New("authentication failed")
	ErrUnreachable  = errors.New("host unreachable")
	ErrRefNotFound  = errors.New("no such branch, tag or commit")
)

type pattern struct {
	needles []string
	err     error
	detail  string // replaces git's own line when set
}

var patterns = []pattern{
	{[]string{"could not read username", "could not read password", "terminal prompts disabled"}, ErrAuth,
		"the server asks for credentials and none are configured (private or non-existent repository)"},
	{[]string{"host key verification failed"}, ErrAuth, "the ssh host key does not match known_hosts"},
	{[]string{"authentication failed", "invalid username or password", "access denied",
		"permission denied (publickey", "returned error: 401", "returned error: 403"}, ErrAuth, ""},
	{[]string{"repository not found", "does not appear to be a git repository", "' not found",
		"returned error: 404"}, ErrRepoNotFound, ""},
	{[]string{"couldn't find remote ref", "not our ref", "no such remote ref", "unadvertised object",
		"bad object"}, ErrRefNotFound, ""},
	{unreachableNeedles, ErrUnreachable, ""},
}

// unreachableNeedles are git's (curl's, ssh's) words for a host it could
// not talk to: name resolution, connection and TLS failures. They hold for
// every repository on the host, which the Poller relies on (see hostLevel).
var unreachableNeedles = []string{
	"could not resolve host", "unable to look up", "name or service not known",
	"temporary failure in name resolution", "no address associated with hostname", "no such host",
	"nodename nor servname", "connection refused", "connection reset", "connection closed by",
	"timed out", "failed to connect", "couldn't connect to server", "unable to connect",
	"network is unreachable", "no route to host", "host is down", "kex_exchange_identification",
	"from proxy after connect", "ssl_connect", "gnutls_handshake", "tls handshake", "handshake failed",
	"ssl certificate problem", "certificate verification failed", "certificate verify failed", "schannel",
}

// classify maps git's standard error to one of the Err* values where it
// can, keeping git's own last fatal line as detail where that helps.
func classify(stderr string) error {
	low := strings.ToLower(stderr)
	for _, p := range patterns {
		if !containsAny(low, p.needles) {
			continue
		}
		switch {
		case p.detail != "":
			return fmt.Errorf("%w: %s", p.err, p.detail)
		case p.err == ErrRepoNotFound || p.err == ErrRefNotFound:
			return p.err
		}
		return fmt.Errorf("%w: %s", p.err, lastFatal(stderr))
	}
	return errors.New(lastFatal(stderr))
}

func containsAny(s string, needles []string) bool {
	for _, n := range needles {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// lastFatal is git's most telling line: its last "fatal:" or "error:"
// line, else its last non-empty line.
func lastFatal(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		for _, p := range []string{"fatal: ", "error: "} {
			if rest, ok := strings.CutPrefix(l, p); ok {
				return rest
			}
		}
	}
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "git failed without a message"
}
