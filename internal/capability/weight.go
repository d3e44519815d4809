package capability

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

// maxWeighedEntries bounds how many directory entries SourceBytes visits:
// a tree larger than that is weighed by its first entries (in the order
// fs.WalkDir visits them).
const maxWeighedEntries = 500_000

// codeExtensions are the file extensions of languages a build compiles.
// Their bytes are what a build's duration grows with; documentation,
// images, test data and vendored web assets in the same tree are not.
var codeExtensions = map[string]bool{
	".c": true, ".h": true, ".cc": true, ".cpp": true, ".cxx": true, ".c++": true,
	".hh": true, ".hpp": true, ".hxx": true, ".h++": true, ".inl": true, ".ipp": true, ".tcc": true,
	".m": true, ".mm": true, ".s": true, ".S": true, ".asm": true,
	".f": true, ".for": true, ".f77": true, ".f90": true, ".f95": true, ".f03": true, ".F": true, ".F90": true,
	".rs": true, ".go": true, ".java": true, ".kt": true, ".scala": true, ".cs": true,
	".swift": true, ".vala": true, ".d": true, ".zig": true, ".nim": true, ".cu": true,
	".hs": true, ".ml": true, ".mli": true, ".adb": true, ".ads": true, ".pas": true,
	".ts": true, ".tsx": true,
}

// SourceBytes sums the sizes of the code files in fsys: regular files
// whose extension names a compiled language (C, C++, assembly, Fortran,
// Rust, Go, Java, TypeScript, …). It is how much there is to compile, the
// planner's weight for a component that has never been built; see
// buildgroup.Expected. Symbolic links and special files do not count, and
// no file is opened. Version-control directories are skipped.
func SourceBytes(fsys fs.FS) (int64, error) {
	var total int64
	seen := 0
	errStop := errors.New("stop")
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if seen++; seen > maxWeighedEntries {
			return errStop
		}
		if d.IsDir() {
			if b := path.Base(name); name != "." && (b == ".git" || b == ".hg" || b == ".svn") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !codeExtensions[extension(name)] {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, err
	}
	return total, nil
}

// extension is name's extension, case kept except for a lower-cased
// fallback (".C" is C++ source like ".cpp", ".H" a header).
func extension(name string) string {
	ext := path.Ext(name)
	if codeExtensions[ext] {
		return ext
	}
	return strings.ToLower(ext)
}
