// Reading spec files from disk: the one place the spec loader's input comes from the file system.
//
// ReadSpecFiles turns the paths a user gives (`nomad-singleton validate specs/ extra.yaml`) into
// SourceFile values for spec::LoadSpecs, which does no I/O itself. A path may be a file (read
// whatever its extension) or a directory, walked recursively for *.yaml and *.yml files.
// ReadSpecDirectory is the controller's form: its one path must be a directory. Free functions
// with no shared state; safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/spec/loader.h"

namespace nsg::io {

// The largest spec file read. A bigger one is an error ("cannot read: larger than 1 MiB") like an
// unreadable file: the loader never sees it, and the controller counts its path as unreadable
// (its specs are kept, never taken for deleted).
inline constexpr size_t kMaxSpecFileBytes = 1024 * 1024;

struct SpecFiles {
  std::vector<spec::SourceFile> files;  // in argument order; each directory's files sorted
  // One per path that could not be read, or not completely (line 0). Empty: every directory
  // was listed completely and every spec file was read.
  std::vector<spec::Diagnostic> errors;
};

// Reads every spec file under `paths`.
//  * A file is read as given, whatever its extension.
//  * A directory is walked recursively; only *.yaml and *.yml names are read. Entries whose name
//    starts with '.' are skipped, both directories (.git, Kubernetes ConfigMap mounts' ..data) and
//    files (editor lock files such as .#a.yaml). Symlinked directories are not followed (no
//    cycles); symlinked files are. Files are sorted by path so that the result does not depend on
//    the file system's order.
//  * A file reached twice (a directory and a file inside it, or through a symlink) is read once,
//    under the first name it was reached by.
//  * Every path that cannot be read becomes a Diagnostic naming that path, with line 0
//    ("specs/x.yaml: cannot read: Permission denied"), and everything else is still read:
//    a path that does not exist, a directory (or subdirectory) that cannot be listed, a spec file
//    that cannot be opened, and a spec name that is not a regular file (a FIFO, a device, a
//    directory named x.yaml, a dangling symlink; never opened in a way that could block), and a
//    file larger than kMaxSpecFileBytes (never read whole).
SpecFiles ReadSpecFiles(const std::vector<std::string>& paths);

// The same for the controller's spec directory: `dir` must be a directory (or a symlink to one);
// a missing `dir`, or a file in its place, is an error naming `dir` and nothing is read.
SpecFiles ReadSpecDirectory(const std::string& dir);

// A fingerprint of what ReadSpecDirectory(dir) would read, from names and stat() alone: the spec
// files it would find (sorted) and, for each, device, inode, size, mode and the modification and
// change times (ns), with `dir`'s own device and inode, as a 64-bit FNV-1a hash, and the newest
// of those times.
// The change time cannot be set back by a writer, but it comes from a clock that ticks every few
// milliseconds: two same-size writes within one tick look alike. So, as git does for its index,
// trust an equal fingerprint only when `newest_change_ns` was already well in the past when the
// earlier fingerprint was taken. nullopt when anything could not be listed or stat'ed (then read
// the directory). 10k spec files cost 10k stat calls, not a read and a parse of each.
struct SpecDirFingerprint {
  uint64_t hash = 0;
  int64_t newest_change_ns = 0;  // unix ns (CLOCK_REALTIME, as the file system stamps)
};
std::optional<SpecDirFingerprint> SpecDirectoryFingerprint(const std::string& dir);

}  // namespace nsg::io
