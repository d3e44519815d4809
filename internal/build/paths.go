package build

import "github.com/kilnbuild/kiln/api/v1alpha1"

// maxFileName is the longest file name (one path element) Linux file
// systems take.
const maxFileName = 255

// FileName makes one path element of name and ext that the file system
// takes: object names run to 253 characters, and names joined from two
// of them further; a longer one keeps its head and a hash of the whole.
func FileName(name, ext string) string {
	return v1alpha1.Fit(name, maxFileName-len(ext)) + ext
}
