// GitRevision: the commit a spec directory's git checkout is at, read from the files git keeps,
// so the controller can record which revision of the specs it applied (job Meta).
//
// Never runs the git binary and never throws. From `dir` upward, the first `.git` found decides:
// a directory (an ordinary checkout) or a file `gitdir: <path>` (a linked worktree or a
// submodule; a relative path is relative to the file's directory). Its HEAD is either a detached
// commit ID or `ref: refs/...`, resolved through the loose ref file and then `packed-refs`, in
// the repository's common directory for a linked worktree (the `commondir` file) — following
// symbolic refs a few levels deep. Commit IDs are lowercase hex: 40 digits (SHA-1) or 64
// (SHA-256 repositories).
//
// Not found (nullopt): `dir` is not in a git checkout, HEAD names a branch with no commit yet,
// the refs live in a reftable (git ≥ 2.45 `extensions.refStorage=reftable`), or any file is
// malformed (a bad ID, a ref name outside refs/, a `.git` file without `gitdir:`).
// Free functions with no state; safe for concurrent use. Reads while git rewrites a ref are safe:
// git replaces ref files by rename, so a read sees the old or the new file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nsg::io {

struct GitHead {
  std::string revision;   // the commit ID HEAD resolves to
  std::string work_tree;  // the directory holding `.git`
  std::string git_dir;    // the repository (or linked worktree) directory `.git` leads to
  std::string head_file;  // <git_dir>/HEAD: rewritten by checkout, switch and detach
  std::string ref;        // "refs/heads/main"; empty when HEAD is detached
  // Where the ref was found: its loose file, or packed-refs; empty when HEAD is detached. A
  // commit on the branch rewrites it (by rename), so watching it and head_file, or their
  // directories, sees every revision change.
  std::string ref_file;
};

// The checkout `dir` is in and the commit its HEAD resolves to; nullopt as described above.
std::optional<GitHead> ReadGitHead(const std::string& dir);

// Whether `s` is a commit ID as git writes it: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
bool IsObjectId(std::string_view s);

// ReadGitHead(dir)->revision.
std::optional<std::string> GitRevision(const std::string& dir);

}  // namespace nsg::io
