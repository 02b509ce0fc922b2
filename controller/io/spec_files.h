// Reading spec files from disk: the one place the spec loader's input comes from the file system.
//
// ReadSpecFiles turns the paths a user gives (`nomad-singleton validate specs/ extra.yaml`) into
// SourceFile values for spec::LoadSpecs, which does no I/O itself. A path may be a file (read
// whatever its extension) or a directory, walked recursively for *.yaml and *.yml files. Free
// functions with no shared state; safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "controller/spec/loader.h"

namespace nsg::io {

struct SpecFiles {
  std::vector<spec::SourceFile> files;  // in argument order; each directory's files sorted
  std::vector<spec::Diagnostic> errors;  // one per path that could not be read (line 0)
};

// Reads every spec file under `paths`.
//  * A file is read as given, whatever its extension.
//  * A directory is walked recursively; only regular files (or symlinks to them) ending in .yaml
//    or .yml are read. Entries whose name starts with '.' are skipped, both directories (.git,
//    Kubernetes ConfigMap mounts' ..data) and files (editor lock files such as .#a.yaml).
//    Symlinked directories are not followed (no cycles). Files are sorted by path so that the
//    result does not depend on the file system's order.
//  * A file reached twice (a directory and a file inside it, or through a symlink) is read once,
//    under the first name it was reached by.
//  * A path that does not exist or cannot be read becomes a Diagnostic naming the path, with
//    line 0 ("specs/x.yaml: cannot read: Permission denied"); the other paths are still read.
SpecFiles ReadSpecFiles(const std::vector<std::string>& paths);

}  // namespace nsg::io
