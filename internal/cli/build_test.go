package cli

import (
	"strings"
	"testing"
)

func TestBuildPullRequestFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"build", "greet", "--pull-request", "4"}, "--pull-request needs --revision"},
		{[]string{"build", "greet", "--pull-request", "0", "--revision", "abc"}, "takes the pull request's number"},
		{[]string{"build", "greet", "lib", "--pull-request", "4", "--revision", "abc"}, "name exactly one"},
		{[]string{"build", "--app", "greet", "--pull-request", "4", "--revision", "abc"}, "name exactly one"},
	} {
		r := kiln(t, nil, "", tc.args...)
		if r.code == nil || !strings.Contains(r.code.Error(), tc.msg) {
			t.Errorf("kiln %s: %v; want %q", strings.Join(tc.args, " "), r.code, tc.msg)
		}
	}
}

// The build object of --pull-request carries the labels and reason the
// webhook's pull request builds have.
func TestBuildObjectForPullRequest(t *testing.T) {
	t.Parallel()
	o := buildObject("greet", "9f3e2d1c0b4a59687766554433221100ffeeddcc", false, nil, "alice")
	asPullRequest(o, 42, "9f3e2d1c0b4a59687766554433221100ffeeddcc")
	labels := o.Map("metadata")["labels"].(map[string]any)
	if labels["pac.test.appstudio.openshift.io/event-type"] != "pull_request" || labels["pac.test.appstudio.openshift.io/pull-request"] != "42" {
		t.Errorf("labels %v", labels)
	}
	spec := o.Map("spec")
	reason := spec["reason"].(map[string]any)
	if spec["revision"] != "9f3e2d1c0b4a59687766554433221100ffeeddcc" || reason["type"] != "pull-request" ||
		reason["by"] != "alice" || reason["message"] != "pull request #42 at 9f3e2d1, by hand" {
		t.Errorf("spec %v", spec)
	}
}
