package git

import "testing"

func TestAllowedURLs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url       string
		allowFile bool
		ok        bool
	}{
		{"https://example.com/lib.git", false, true},
		{"file:///srv/git/lib", false, false},
		{"file:///srv/git/lib", true, true},
	} {
		if err := AllowedURLs(c.allowFile)(c.url); (err == nil) != c.ok {
			t.Errorf("AllowedURLs(%v)(%s) = %v; want ok %v", c.allowFile, c.url, err, c.ok)
		}
	}
}
