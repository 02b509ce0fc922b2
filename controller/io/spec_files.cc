#include "controller/io/spec_files.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <set>
#include <system_error>

namespace nsg::io {
namespace {

namespace fs = std::filesystem;

spec::Diagnostic ReadError(const std::string& path, const std::string& why) {
  return spec::Diagnostic{spec::SourcePos{path, 0, 0}, "", "cannot read: " + why};
}

bool IsHidden(const fs::path& p) {
  std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

bool HasSpecExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// Reads a whole file. std::ifstream would hide errno, which is what the user needs to see.
bool ReadFile(const std::string& path, std::string& out, std::string& why) {
  errno = 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    why = std::generic_category().message(errno);
    return false;
  }
  out.clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) {
    why = std::generic_category().message(err != 0 ? err : EIO);
    return false;
  }
  return true;
}

// The *.yaml / *.yml files under `dir`, sorted. Appends walk errors to `errors`.
std::vector<std::string> WalkDirectory(const std::string& dir,
                                       std::vector<spec::Diagnostic>& errors) {
  std::vector<std::string> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) {
    errors.push_back(ReadError(dir, ec.message()));
    return found;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      errors.push_back(ReadError(dir, ec.message()));
      break;
    }
    const fs::directory_entry& entry = *it;
    if (IsHidden(entry.path())) {
      it.disable_recursion_pending();  // a no-op for files
      continue;
    }
    if (!HasSpecExtension(entry.path())) continue;
    std::error_code type_ec;
    // is_regular_file follows a symlink; a dangling one is reported so it is not silently lost.
    if (entry.is_regular_file(type_ec)) {
      found.push_back(entry.path().string());
    } else if (entry.is_symlink(type_ec) && !fs::exists(entry.path(), type_ec)) {
      found.push_back(entry.path().string());  // ReadFile reports "No such file or directory"
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

SpecFiles ReadSpecFiles(const std::vector<std::string>& paths) {
  SpecFiles out;
  std::set<std::string> seen;  // canonical paths already read
  auto read_one = [&](const std::string& path) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(path, ec);
    std::string id = ec ? path : canonical.string();
    if (!seen.insert(id).second) return;
    spec::SourceFile file{path, ""};
    std::string why;
    if (!ReadFile(path, file.content, why)) {
      out.errors.push_back(ReadError(path, why));
      return;
    }
    out.files.push_back(std::move(file));
  };
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
      out.errors.push_back(ReadError(path, ec.message()));
      continue;
    }
    if (fs::is_directory(st)) {
      for (const std::string& f : WalkDirectory(path, out.errors)) read_one(f);
    } else {
      read_one(path);  // a missing path is reported by the read itself
    }
  }
  return out;
}

}  // namespace nsg::io
