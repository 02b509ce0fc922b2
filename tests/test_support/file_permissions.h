// ScopedFilePermissionsEnforced: makes file permission bits apply to the calling thread even when
// the tests run as root, so that "chmod 000 makes a directory unreadable" can be tested for real.
//
// Root reads anything because of two capabilities, CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH.
// Linux keeps capabilities per thread: this clears both from the calling thread's *effective* set
// (they stay permitted) and puts them back in the destructor. Threads created meanwhile inherit
// the reduced set. Not root: nothing to do. ok() is false when the capabilities could not be
// dropped (e.g. a seccomp filter refuses capset); the caller then skips, and says so.
// Header-only; use on one thread.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace nsg::test_support {

class ScopedFilePermissionsEnforced {
 public:
  ScopedFilePermissionsEnforced() {
    if (::geteuid() != 0) {
      ok_ = true;
      return;
    }
    header_.version = _LINUX_CAPABILITY_VERSION_3;
    header_.pid = 0;  // the calling thread
    if (::syscall(SYS_capget, &header_, saved_) != 0) return;
    __user_cap_data_struct reduced[2] = {saved_[0], saved_[1]};
    constexpr uint32_t kBypass = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH);
    reduced[0].effective &= ~kBypass;
    if (::syscall(SYS_capset, &header_, reduced) != 0) return;
    dropped_ = true;
    ok_ = true;
  }
  ~ScopedFilePermissionsEnforced() {
    if (dropped_) ::syscall(SYS_capset, &header_, saved_);
  }
  ScopedFilePermissionsEnforced(const ScopedFilePermissionsEnforced&) = delete;
  ScopedFilePermissionsEnforced& operator=(const ScopedFilePermissionsEnforced&) = delete;

  bool ok() const { return ok_; }

 private:
  __user_cap_header_struct header_{};
  __user_cap_data_struct saved_[2]{};
  bool dropped_ = false;
  bool ok_ = false;
};

}  // namespace nsg::test_support
