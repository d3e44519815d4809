package debimport

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/client"
)

// Target is the API the command applies objects to (the CLI's client).
type Target interface {
	// Namespace is the namespace of -n (or the client config's).
	Namespace() string
	// Ready checks the API can be reached (before anything is fetched).
	Ready(cmd *cobra.Command) error
	// Apply creates or updates the objects in order, printing what it did.
	Apply(cmd *cobra.Command, objs []client.Object) error
}

// DefaultKeyring is the keyring of Debian's archive signing keys.
const DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// flags are the command's flags.
type flags struct {
	suite, app, dir, mirror, component, keyring string
	nocheck                                     bool
	profiles                                    []string
}

// NewCommand returns `kiln import debian`.
func NewCommand(t Target) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "debian SRCPKG... [--suite bookworm] [-n NS] [--app APP] [--dir DIR]",
		Short: "Import Debian source packages into git repositories and components",
		Long: `Fetches each source package from the archive (its signed InRelease checked with
--keyring, the Sources index and every file of the package checked against
their SHA-256), unpacks it with dpkg-source -x, commits it to a bare git
repository per package (DIR/<package>.git, branch main, tag debian/<version>)
and applies an Application and one Component per package that builds with the
debian pipeline. Run it again to import a newer archive version on top; a package
already at the archive's version gets no new commit. Everything is fetched and
verified before anything is committed or applied.

The components' git URLs are file:// paths: the server must run on this
machine with --allow-file-sources, or push the repositories to a git server
and change the URLs.`,
		Example: "  kiln import debian hello\n  kiln import debian zlib libpng1.6 --suite bookworm --app slice -n distro --nocheck",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, t, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.suite, "suite", "bookworm", "the archive suite (codename)")
	fl.StringVar(&f.app, "app", "debian", "the Application the components belong to")
	fl.StringVar(&f.dir, "dir", "", "where the repositories are created (default: <data dir>/debian-sources, the data dir being $KILN_DATA_DIR or .kiln)")
	fl.StringVar(&f.mirror, "mirror", "http://deb.debian.org/debian", "the archive URL")
	fl.StringVar(&f.component, "component", "main", "the archive component")
	fl.StringVar(&f.keyring, "keyring", DefaultKeyring, "OpenPGP keyring the archive's InRelease must be signed with")
	fl.BoolVar(&f.nocheck, "nocheck", false, "build the components with the nocheck profile (no tests, no test-only build dependencies)")
	fl.StringSliceVar(&f.profiles, "profiles", nil, "further build profiles of every imported component, comma-separated (e.g. nobiarch,nodoc)")
	return cmd
}

// run is the command's body.
func run(cmd *cobra.Command, t Target, f flags, args []string) error {
	keys, err := ReadKeyring(f.keyring)
	if err != nil {
		return err
	}
	if err := t.Ready(cmd); err != nil {
		return fmt.Errorf("the Kiln API: %w; nothing was imported", err)
	}
	if f.dir == "" {
		f.dir = filepath.Join(dataDir(), "debian-sources")
	}
	o := Options{
		Packages: args, Dir: f.dir, Namespace: t.Namespace(), App: f.app, Nocheck: f.nocheck, Profiles: f.profiles,
		Log:     cmd.ErrOrStderr(),
		Archive: Archive{URL: f.mirror, Suite: f.suite, Component: f.component, Keyring: keys, HTTP: &http.Client{Timeout: 30 * time.Minute}},
		Apply:   func(_ context.Context, objs []client.Object) error { return t.Apply(cmd, objs) },
	}
	results, err := Run(cmd.Context(), o)
	for _, r := range results {
		printResult(cmd, r)
	}
	return err
}

// printResult says what happened to one package.
func printResult(cmd *cobra.Command, r Result) {
	w := cmd.OutOrStdout()
	switch {
	case r.Changed && r.Previous == "":
		fmt.Fprintf(w, "%s %s imported into %s (commit %.12s)\n", r.Package, r.Version, r.Repo, r.Commit)
	case r.Changed:
		fmt.Fprintf(w, "%s %s imported on top of %s in %s (commit %.12s)\n", r.Package, r.Version, r.Previous, r.Repo, r.Commit)
	default:
		fmt.Fprintf(w, "%s %s: already at the archive's version, no new commit (%s, commit %.12s)\n", r.Package, r.Version, r.Repo, r.Commit)
	}
	if len(r.Stage1) > 0 {
		fmt.Fprintf(w, "  %s: in a dependency cycle, its first build uses build profile %s (without %s)\n", r.Component, BootstrapProfile, strings.Join(r.Stage1, ", "))
	}
}

// dataDir is kiln up's default data directory.
func dataDir() string {
	if d := os.Getenv("KILN_DATA_DIR"); d != "" {
		return d
	}
	return ".kiln"
}
