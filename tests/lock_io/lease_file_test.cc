#include "controller/lock_io/lease_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/lock_io/lock_runner_test_util.h"

namespace nsg::io {
namespace {

using base::StatusCode;
using testing::TempDir;
using namespace std::chrono_literals;

Lease Sample() {
  Lease l;
  l.state = LeaseState::kHeld;
  l.epoch = 120;
  l.holder = "8c1f0d3e-alloc";
  l.path = "nomad/jobs/example/lock";
  l.deadline = base::FromNanos(123456789000);
  l.kill_timeout = 5s;
  l.boot_id = BootId();
  return l;
}

TEST(LeaseFileTest, BootClockIsMonotonicAndBootIdIsKnown) {
  BootClock c;
  const auto a = c.Now();
  const auto b = c.Now();
  EXPECT_LE(a, b);
  EXPECT_GT(a.time_since_epoch(), Duration(0));
  EXPECT_EQ(BootId().size(), 36u);
}

TEST(LeaseFileTest, LeaseRoundTrips) {
  for (LeaseState s : {LeaseState::kHeld, LeaseState::kStopping, LeaseState::kLost}) {
    Lease l = Sample();
    l.state = s;
    auto back = DecodeLease(EncodeLease(l));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, l);
  }
}

TEST(LeaseFileTest, WorkloadStateAndHandoffRoundTrip) {
  WorkloadState w{WorkloadPhase::kExited, 7, 1234, 1200, 143, BootId()};
  auto wb = DecodeWorkloadState(EncodeWorkloadState(w));
  ASSERT_TRUE(wb.ok());
  EXPECT_EQ(*wb, w);
  Handoff h{"nomad/jobs/x/lock", "prod", "lock-id", 9, base::FromNanos(42), BootId()};
  auto hb = DecodeHandoff(EncodeHandoff(h));
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(*hb, h);
}

TEST(LeaseFileTest, DecoderRejectsEveryMalformedClass) {
  const std::string good = EncodeLease(Sample());
  struct Case {
    std::string name;
    std::string text;
    std::string want;
  };
  std::string flipped = good;
  flipped[flipped.find("epoch 120") + 6] = '9';  // content changed, checksum not
  std::string no_sum = good.substr(0, good.rfind("sum "));
  const Case cases[] = {
      {"empty", "", "not a nomad-singleton lease v1 file"},
      {"wrong magic", "nomad-singleton lease v2\n", "not a"},
      {"no checksum", no_sum, "no checksum"},
      {"tampered", flipped, "checksum mismatch"},
      {"truncated", good.substr(0, good.size() / 2), "checksum"},
  };
  for (const auto& c : cases) {
    auto r = DecodeLease(c.text);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec) << c.name;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << c.name << ": " << r.status().message();
  }
}

TEST(LeaseFileTest, DecoderRejectsMissingKeysBadNumbersAndStates) {
  auto with = [](const std::string& body) {
    // Re-encode a hand-written body with a valid checksum via the workload encoder's format.
    std::string text = "nomad-singleton lease v1\n" + body;
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : text) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return text + "sum " + buf + "\n";
  };
  const std::string full =
      "state held\nepoch 1\nholder a\npath p\ndeadline 5\nkill_timeout 1\nboot_id b\n";
  ASSERT_TRUE(DecodeLease(with(full)).ok());
  EXPECT_NE(DecodeLease(with("state held\nepoch 1\n")).status().message().find("missing key"),
            std::string::npos);
  EXPECT_NE(DecodeLease(with("state maybe\nepoch 1\nholder a\npath p\ndeadline 5\n"
                             "kill_timeout 1\nboot_id b\n"))
                .status()
                .message()
                .find("bad lease state"),
            std::string::npos);
  EXPECT_NE(DecodeLease(with("state held\nepoch x1\nholder a\npath p\ndeadline 5\n"
                             "kill_timeout 1\nboot_id b\n"))
                .status()
                .message()
                .find("bad number for epoch"),
            std::string::npos);
  EXPECT_NE(DecodeLease(with(full + "epoch 2\n")).status().message().find("duplicate key"),
            std::string::npos);
}

TEST(LeaseFileTest, WriteIsAtomicAndReadValidatesTheBoot) {
  TempDir dir;
  const std::string path = dir / "lease";
  EXPECT_EQ(ReadLease(path).status().code(), StatusCode::kNotFound);
  Lease l = Sample();
  l.boot_id.clear();  // WriteLease fills it in
  ASSERT_TRUE(WriteLease(path, l).ok());
  auto back = ReadLease(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->boot_id, BootId());
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  // A lease from another boot never validates (its BOOTTIME deadline means nothing now).
  l.boot_id = "00000000-0000-0000-0000-000000000000";
  ASSERT_TRUE(WriteFileAtomic(path, EncodeLease(l)).ok());
  auto other = ReadLease(path);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("another boot"), std::string::npos);
}

TEST(LeaseFileTest, HandoffIsPrivate) {
  TempDir dir;
  ASSERT_TRUE(WriteHandoff(dir / "handoff", {"p", "", "id", 1, base::FromNanos(1), ""}).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "handoff").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(ReadHandoff(dir / "handoff").ok());
}

TEST(LeaseFileTest, LeaseAllowsRunningOnlyWhileHeldAndBeforeTheDeadline) {
  Lease l = Sample();
  const auto d = l.deadline;
  EXPECT_TRUE(LeaseAllowsRunning(l, d - 1ns));
  EXPECT_FALSE(LeaseAllowsRunning(l, d));
  l.state = LeaseState::kStopping;
  EXPECT_FALSE(LeaseAllowsRunning(l, d - 1s));
  l.state = LeaseState::kLost;
  EXPECT_FALSE(LeaseAllowsRunning(l, d - 1s));
}

TEST(LeaseFileTest, MakeDirsCreatesParents) {
  TempDir dir;
  ASSERT_TRUE(MakeDirs(dir / "a/b/c").ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir / "a/b/c"));
  ASSERT_TRUE(MakeDirs(dir / "a/b/c").ok());
}

}  // namespace
}  // namespace nsg::io
