#include "controller/controller_io/git_revision.h"

#include <cstdio>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace nsg::io {
namespace {

namespace fs = std::filesystem;

// HEAD, a loose ref, `commondir` and a `.git` file are a line or two; packed-refs of a big
// repository is megabytes. Anything beyond this is not a file git wrote.
constexpr size_t kMaxSmallFile = 64 * 1024;
constexpr size_t kMaxPackedRefs = 256 * 1024 * 1024;
constexpr int kMaxSymrefDepth = 5;  // git's own limit is 5 too (SYMREF_MAXDEPTH)

std::optional<std::string> ReadFile(const fs::path& path, size_t limit) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::string out;
  char buf[65536];
  size_t n;
  bool ok = true;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
    if (out.size() > limit) {
      ok = false;
      break;
    }
  }
  if (std::ferror(f) != 0) ok = false;
  std::fclose(f);
  if (!ok) return std::nullopt;
  return out;
}

// The first line without its line ending.
std::string_view FirstLine(std::string_view s) {
  s = s.substr(0, s.find('\n'));
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

// A ref name that stays inside the repository: refs/..., no "." or ".." component, no empty one.
bool IsSafeRefName(std::string_view ref) {
  if (ref.substr(0, 5) != "refs/" || ref.back() == '/') return false;
  size_t start = 0;
  while (start <= ref.size()) {
    size_t end = ref.find('/', start);
    if (end == std::string_view::npos) end = ref.size();
    std::string_view part = ref.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.find('\\') != std::string_view::npos ||
        part.find('\0') != std::string_view::npos) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// Refs that belong to one worktree (git's worktree.c); every other ref is in the common dir.
bool IsPerWorktreeRef(std::string_view ref) {
  for (std::string_view prefix : {"refs/bisect/", "refs/worktree/", "refs/rewritten/"}) {
    if (ref.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

// `ref`'s commit ID from packed-refs ("<id> <ref>" lines; "#" header and "^<id>" peel lines).
std::optional<std::string> FromPackedRefs(const fs::path& file, std::string_view ref) {
  std::optional<std::string> text = ReadFile(file, kMaxPackedRefs);
  if (!text) return std::nullopt;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = FirstLine(rest);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const size_t sp = line.find(' ');
    if (line.empty() || line[0] == '#' || line[0] == '^' || sp == std::string_view::npos) continue;
    if (line.substr(sp + 1) != ref) continue;
    std::string_view id = line.substr(0, sp);
    if (!IsObjectId(id)) return std::nullopt;
    return std::string(id);
  }
  return std::nullopt;
}

// The `.git` nearest to `dir`, upward: the work tree and the git dir it leads to.
std::optional<std::pair<fs::path, fs::path>> FindGitDir(const std::string& dir) {
  std::error_code ec;
  fs::path at = fs::canonical(dir, ec);
  if (ec) return std::nullopt;
  for (;;) {
    const fs::path dot_git = at / ".git";
    const fs::file_status st = fs::status(dot_git, ec);
    if (fs::is_directory(st)) return std::make_pair(at, dot_git);
    if (fs::is_regular_file(st)) {
      std::optional<std::string> text = ReadFile(dot_git, kMaxSmallFile);
      if (!text) return std::nullopt;
      std::string_view line = FirstLine(*text);
      constexpr std::string_view kPrefix = "gitdir: ";
      if (line.substr(0, kPrefix.size()) != kPrefix || line.size() == kPrefix.size()) {
        return std::nullopt;
      }
      fs::path target(std::string(line.substr(kPrefix.size())));
      if (target.is_relative()) target = at / target;
      return std::make_pair(at, target.lexically_normal());
    }
    if (!at.has_relative_path()) return std::nullopt;  // reached /
    at = at.parent_path();
  }
}

}  // namespace

bool IsObjectId(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<GitHead> ReadGitHead(const std::string& dir) {
  try {
    auto found = FindGitDir(dir);
    if (!found) return std::nullopt;
    const auto& [work_tree, git_dir] = *found;
    // A linked worktree's git dir names the repository's common dir; other repos are their own.
    fs::path common_dir = git_dir;
    if (std::optional<std::string> text = ReadFile(git_dir / "commondir", kMaxSmallFile)) {
      std::string_view line = FirstLine(*text);
      if (line.empty()) return std::nullopt;
      fs::path p{std::string(line)};
      common_dir = (p.is_relative() ? git_dir / p : p).lexically_normal();
    }

    GitHead head;
    head.work_tree = work_tree.string();
    head.git_dir = git_dir.string();
    head.head_file = (git_dir / "HEAD").string();
    std::optional<std::string> content = ReadFile(head.head_file, kMaxSmallFile);
    for (int depth = 0; content && depth <= kMaxSymrefDepth; ++depth) {
      std::string_view line = FirstLine(*content);
      constexpr std::string_view kRef = "ref: ";
      if (line.substr(0, kRef.size()) != kRef) {
        if (!IsObjectId(line)) return std::nullopt;
        head.revision = std::string(line);
        return head;
      }
      std::string_view ref = line.substr(kRef.size());
      if (!IsSafeRefName(ref)) return std::nullopt;
      const fs::path& base = IsPerWorktreeRef(ref) ? git_dir : common_dir;
      head.ref = std::string(ref);  // `ref` points into `content`, replaced next
      head.ref_file = (base / head.ref).string();
      content = ReadFile(head.ref_file, kMaxSmallFile);
      if (!content) {  // not loose: packed, or a branch with no commit yet
        head.ref_file = (base / "packed-refs").string();
        std::optional<std::string> id = FromPackedRefs(head.ref_file, head.ref);
        if (!id) return std::nullopt;
        head.revision = *id;
        return head;
      }
    }
    return std::nullopt;  // no HEAD, or symbolic refs nested too deep
  } catch (const std::exception&) {  // std::bad_alloc, or a filesystem::path conversion
    return std::nullopt;
  }
}

std::optional<std::string> GitRevision(const std::string& dir) {
  std::optional<GitHead> head = ReadGitHead(dir);
  if (!head) return std::nullopt;
  return std::move(head->revision);
}

}  // namespace nsg::io
