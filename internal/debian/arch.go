package debian

import "runtime"

// HostArch is the Debian architecture of the machine Kiln runs on
// ("amd64"), the architecture builds are for; GOARCH when Debian has no
// name for it.
func HostArch() string { return archOf(runtime.GOARCH) }

// archOf maps a GOARCH to its Debian architecture name.
func archOf(goarch string) string {
	switch goarch {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	case "mips64le":
		return "mips64el"
	case "mipsle":
		return "mipsel"
	}
	return goarch // amd64, arm64, s390x, riscv64, loong64 are spelled alike
}
