// The ways a spec source breaks that must never look like a deleted spec (issue 16), shared by
// the SpecSet tests (tests/controller_io/spec_set_test.cc) and the ControllerCore prune tests
// (tests/runtime/controller_core_test.cc).
//
// A source is a directory DIR with alpha.yaml and the spec of "beta" (DIR/beta.yaml, or
// DIR/sub/beta.yaml for the subdirectory faults). Each fault breaks DIR or beta's file in place;
// RestoreSpecSource undoes any of them. Test-only; header-only.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

namespace nsg::io::testing {

namespace fs = std::filesystem;

// A valid shim-mode Singleton named `name`; `metadata` replaces the metadata line.
inline std::string SingletonYaml(const std::string& name, const std::string& metadata = "") {
  return "apiVersion: nomad-singleton.io/v1alpha1\n"
         "kind: Singleton\n" +
         (metadata.empty() ? "metadata: {name: " + name + "}\n" : metadata + "\n") +
         "spec:\n"
         "  lock: {mode: shim, ttl: 10s, delay: 1s}\n"
         "  task:\n"
         "    driver: raw_exec\n"
         "    config: {command: /bin/sleep, args: [\"1000\"]}\n";
}

inline void WriteText(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

struct SpecSourceFault {
  std::string name;
  bool in_subdirectory = false;  // beta's spec is DIR/sub/beta.yaml
  bool permission_bits = false;  // chmod: binds root only under ScopedFilePermissionsEnforced
  // Breaks the source; `beta` is beta's spec file.
  std::function<void(const fs::path& dir, const fs::path& beta)> apply;
  // The path the read reports first in SpecSet::unreadable.
  std::function<fs::path(const fs::path& dir, const fs::path& beta)> reported;
};

// gtest prints a parameter by its name.
inline void PrintTo(const SpecSourceFault& fault, std::ostream* os) { *os << fault.name; }

inline fs::path Moved(const fs::path& dir) { return dir.string() + ".moved"; }

inline std::vector<SpecSourceFault> SpecSourceFaults() {
  const auto whole_dir = [](const fs::path& dir, const fs::path&) { return dir; };
  const auto the_file = [](const fs::path&, const fs::path& beta) { return beta; };
  const auto replace_file = [](std::function<void(const fs::path&)> make) {
    return [make](const fs::path&, const fs::path& beta) {
      fs::remove(beta);
      make(beta);
    };
  };
  return {
      {"DirectoryMoved", false, false,
       [](const fs::path& dir, const fs::path&) { fs::rename(dir, Moved(dir)); }, whole_dir},
      {"DirectoryReplacedByFile", false, false,
       [](const fs::path& dir, const fs::path&) {
         fs::rename(dir, Moved(dir));
         WriteText(dir, SingletonYaml("alpha"));
       },
       whole_dir},
      {"DirectoryUnreadable", false, true,
       [](const fs::path& dir, const fs::path&) { fs::permissions(dir, fs::perms::none); },
       whole_dir},
      {"SubdirectoryUnreadable", true, true,
       [](const fs::path&, const fs::path& beta) {
         fs::permissions(beta.parent_path(), fs::perms::none);
       },
       [](const fs::path&, const fs::path& beta) { return beta.parent_path(); }},
      {"FileUnreadable", false, true,
       [](const fs::path&, const fs::path& beta) { fs::permissions(beta, fs::perms::none); },
       the_file},
      {"FileEmptied", false, false,
       [](const fs::path&, const fs::path& beta) { WriteText(beta, ""); }, the_file},
      {"FileTruncatedToComments", false, false,
       [](const fs::path&, const fs::path& beta) { WriteText(beta, "# rewritten by a tool\n"); },
       the_file},
      {"FileReplacedByFifo", false, false,
       replace_file([](const fs::path& p) { ::mkfifo(p.c_str(), 0644); }), the_file},
      {"FileReplacedByDirectory", false, false,
       replace_file([](const fs::path& p) { fs::create_directory(p); }), the_file},
      {"FileReplacedBySymlinkToDevZero", false, false,
       replace_file([](const fs::path& p) { fs::create_symlink("/dev/zero", p); }), the_file},
      {"FileLargerThanTheCap", false, false,
       [](const fs::path&, const fs::path& beta) {
         // Still beta's spec, padded past the 1 MiB cap: not read at all.
         WriteText(beta, SingletonYaml("beta") + "# " + std::string(1024 * 1024, 'x') + "\n");
       },
       the_file},
      {"NameUnreadableFlowStyleMangled", false, false,
       [](const fs::path&, const fs::path& beta) {
         WriteText(beta, SingletonYaml("beta", "metadata: {name: beta"));
       },
       the_file},
  };
}

// The test name of a fault, for INSTANTIATE_TEST_SUITE_P.
struct FaultName {
  template <typename ParamInfo>
  std::string operator()(const ParamInfo& param) const {
    return param.param.name;
  }
};

// Undoes any fault above: DIR back in place and readable, beta's spec as `beta_text`.
inline void RestoreSpecSource(const fs::path& dir, const fs::path& beta,
                              const std::string& beta_text) {
  std::error_code ec;
  if (fs::exists(Moved(dir), ec)) {
    fs::remove_all(dir, ec);
    fs::rename(Moved(dir), dir);
  }
  fs::permissions(dir, fs::perms::owner_all, ec);
  fs::permissions(beta.parent_path(), fs::perms::owner_all, ec);
  fs::remove_all(beta, ec);
  WriteText(beta, beta_text);
}

}  // namespace nsg::io::testing
