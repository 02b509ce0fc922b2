// TestTempDir: a fresh directory for the running test, removed when it goes out of scope.
//
// Named <system temp dir>/<prefix>_<pid>_<test name>, so parallel ctest processes and the tests
// of one binary never share it; whatever a crashed earlier run left there is removed first.
// Header-only; owned by the test that made it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace nsg::test_support {

class TestTempDir {
 public:
  explicit TestTempDir(const std::string& prefix) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "_" + std::to_string(::getpid()) + "_" + (info ? info->name() : "none"));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TestTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TestTempDir(const TestTempDir&) = delete;
  TestTempDir& operator=(const TestTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace nsg::test_support
