#include "controller/controller_io/spec_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
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

std::string Errno(int err) { return std::generic_category().message(err); }

std::string TooLarge() {
  return "larger than " + std::to_string(kMaxSpecFileBytes / (1024 * 1024)) +
         " MiB (a spec is a few KiB; is this the right file?)";
}

// What a spec path holds when it is not a regular file, for the error.
std::string NotARegularFile(mode_t mode) {
  const char* what = S_ISDIR(mode)    ? "a directory"
                     : S_ISFIFO(mode) ? "a FIFO"
                     : S_ISCHR(mode)  ? "a character device"
                     : S_ISBLK(mode)  ? "a block device"
                     : S_ISSOCK(mode) ? "a socket"
                                      : "not a file";
  return std::string("not a regular file (") + what + ")";
}

// Reads a whole regular file of at most kMaxSpecFileBytes. Opened non-blocking and checked with
// fstat before reading, so a FIFO or a device put where a spec was (or swapped in after the
// directory was listed) is an error and never blocks or reads forever. std::ifstream would hide errno, which the user needs.
bool ReadFile(const std::string& path, std::string& out, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    why = Errno(errno);
    return false;
  }
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0;
  if (!ok) {
    why = Errno(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = NotARegularFile(st.st_mode);
    ok = false;
  } else if (static_cast<uint64_t>(st.st_size) > kMaxSpecFileBytes) {
    why = TooLarge();
    ok = false;
  }
  out.clear();
  char buf[65536];
  while (ok) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0 && out.size() + static_cast<size_t>(n) > kMaxSpecFileBytes) {
      why = TooLarge();  // grew after the fstat
      ok = false;
    } else if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      why = Errno(errno);
      ok = false;
    }
  }
  ::close(fd);
  return ok;
}

// Appends the *.yaml / *.yml paths under `dir` to `found` (unsorted) and every directory that
// cannot be listed completely to `errors`, under that directory's own path; its siblings are
// still walked. A non-hidden directory is walked unless it is a symlink or has a spec name (a
// directory where a spec file is expected is reported when it is read).
void WalkDirectory(const fs::path& dir, std::vector<std::string>& found,
                   std::vector<spec::Diagnostic>& errors) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    errors.push_back(ReadError(dir.string(), ec.message()));
    return;
  }
  std::vector<fs::path> subdirs;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      errors.push_back(ReadError(dir.string(), ec.message()));
      break;
    }
    const fs::path& p = it->path();
    if (IsHidden(p)) continue;
    std::error_code type_ec;
    const bool is_dir = it->symlink_status(type_ec).type() == fs::file_type::directory;
    if (HasSpecExtension(p)) {
      found.push_back(p.string());  // ReadFile reports what is not a readable regular file
    } else if (is_dir) {
      subdirs.push_back(p);
    }
  }
  for (const fs::path& sub : subdirs) WalkDirectory(sub, found, errors);
}

class Reader {
 public:
  void File(const std::string& path) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(path, ec);
    std::string id = ec ? path : canonical.string();
    if (!seen_.insert(id).second) return;
    spec::SourceFile file{path, ""};
    std::string why;
    if (!ReadFile(path, file.content, why)) {
      out_.errors.push_back(ReadError(path, why));
      return;
    }
    out_.files.push_back(std::move(file));
  }
  void Directory(const std::string& dir) {
    std::vector<std::string> found;
    WalkDirectory(dir, found, out_.errors);
    std::sort(found.begin(), found.end());
    for (const std::string& f : found) File(f);
  }
  void Error(const std::string& path, const std::string& why) {
    out_.errors.push_back(ReadError(path, why));
  }
  SpecFiles Take() { return std::move(out_); }

 private:
  SpecFiles out_;
  std::set<std::string> seen_;  // canonical paths already read
};

}  // namespace

SpecFiles ReadSpecFiles(const std::vector<std::string>& paths) {
  Reader r;
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
      r.Error(path, ec.message());
    } else if (fs::is_directory(st)) {
      r.Directory(path);
    } else {
      r.File(path);  // a missing path is reported by the read itself
    }
  }
  return r.Take();
}

namespace {

struct Fnv1a {
  uint64_t h = 1469598103934665603ull;
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  }
  void Add(const std::string& s) { Add(s.data(), s.size() + 1); }  // with the NUL: a separator
  int64_t newest_ns = 0;
  void Add(const struct stat& st) {
    for (const timespec& t : {st.st_mtim, st.st_ctim}) {
      newest_ns = std::max<int64_t>(newest_ns, int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec);
    }
    for (int64_t v : {static_cast<int64_t>(st.st_dev), static_cast<int64_t>(st.st_ino),
                      static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mode),
                      static_cast<int64_t>(st.st_mtim.tv_sec), static_cast<int64_t>(st.st_mtim.tv_nsec),
                      static_cast<int64_t>(st.st_ctim.tv_sec), static_cast<int64_t>(st.st_ctim.tv_nsec)}) {
      Add(&v, sizeof v);
    }
  }
};

}  // namespace

std::optional<SpecDirFingerprint> SpecDirectoryFingerprint(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  std::vector<std::string> found;
  std::vector<spec::Diagnostic> errors;
  WalkDirectory(dir, found, errors);
  if (!errors.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  Fnv1a h;
  // The directory by identity only (a swapped symlink or a replaced directory), not its times:
  // an editor's swap file changes those without changing what is read.
  for (int64_t v : {static_cast<int64_t>(st.st_dev), static_cast<int64_t>(st.st_ino)}) {
    h.Add(&v, sizeof v);
  }
  for (const std::string& f : found) {
    struct stat link, target;
    // The file as read (a symlinked file is followed) and the name itself (a swapped symlink).
    if (::lstat(f.c_str(), &link) != 0 || ::stat(f.c_str(), &target) != 0) return std::nullopt;
    h.Add(f);
    h.Add(link);
    h.Add(target);
  }
  return SpecDirFingerprint{h.h, h.newest_ns};
}

SpecFiles ReadSpecDirectory(const std::string& dir) {
  Reader r;
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (ec) {
    r.Error(dir, ec.message());
  } else if (!fs::is_directory(st)) {
    r.Error(dir, Errno(ENOTDIR));
  } else {
    r.Directory(dir);
  }
  return r.Take();
}

}  // namespace nsg::io
