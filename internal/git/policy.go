package git

import (
	"errors"
	"strings"
)

// errFileURL is the answer for file:// repositories on a server that does
// not read them.
var errFileURL = errors.New("file:// repositories are disabled on this server: push the code to a git server, or start Kiln with --allow-file-sources (single-user machines only)")

// AllowedURLs returns the check of the repository URLs a server may read:
// file:// URLs only when allowFile is set (local mode only: a tenant could
// otherwise read repositories on the server's disk).
func AllowedURLs(allowFile bool) func(url string) error {
	return func(url string) error {
		if strings.HasPrefix(url, "file://") && !allowFile {
			return errFileURL
		}
		return nil
	}
}
