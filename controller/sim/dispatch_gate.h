// DispatchGate: what callbacks running on another library's threads may reach of an object that
// its owner destroys.
//
// cpprest runs a request's body continuation on its thread pool, possibly after the HTTP front end
// that registered it has been stopped and freed (ASan caught one dispatching on freed memory in a
// test's teardown). The continuation holds a shared_ptr to the gate, never the object: it enters
// through a Pass, which yields the object or null once the owner has closed the gate, and the
// owner's Close() waits until no Pass is inside before it frees the object.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace nsg::sim {

template <typename T>
class DispatchGate {
 public:
  // Lets passes reach `target` (until Close).
  void Open(T* target) {
    std::lock_guard<std::mutex> lock(mu_);
    target_ = target;
  }

  // Holds the gate for one callback: target() stays valid until the Pass is destroyed; null when
  // the gate was closed (or never opened) as the Pass was taken.
  class Pass {
   public:
    explicit Pass(DispatchGate& g) : g_(g) {
      std::lock_guard<std::mutex> lock(g_.mu_);
      target_ = g_.target_;
      if (target_ != nullptr) ++g_.inside_;
    }
    ~Pass() {
      if (target_ == nullptr) return;
      std::lock_guard<std::mutex> lock(g_.mu_);
      if (--g_.inside_ == 0) g_.idle_.notify_all();
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    T* target() const { return target_; }

   private:
    DispatchGate& g_;
    T* target_ = nullptr;
  };

  // Closes the gate (new passes see null) and waits up to `deadline` for the passes inside.
  // Returns false if some were still inside at the deadline: the target must not be freed then.
  bool Close(std::chrono::steady_clock::duration deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    target_ = nullptr;
    return idle_.wait_for(lock, deadline, [this] { return inside_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  T* target_ = nullptr;  // guarded by mu_
  int inside_ = 0;       // passes holding a non-null target; guarded by mu_
};

}  // namespace nsg::sim
