// EventBroker: the simulator's copy of Nomad's event broker (nomad-api.md §4).
//
// It keeps a ring of the last `buffer_size` Raft-index entries (one entry holds every event of one
// index) and serves subscriptions with Nomad's exact semantics:
//   * index=0 replays the whole buffer, then streams live events;
//   * index=N in the buffer starts at and including the entry with Index == N; between two entries
//     it starts at the next larger one;
//   * index=N older than the oldest entry silently starts at the oldest (no error, no marker);
//   * index=N beyond the newest replays the newest existing entry;
//   * topic filters Topic:Key match Event.Key or any of Event.FilterKeys; "*" matches all; an event
//     that matches two of a subscriber's keys is delivered twice (Nomad's quirk);
//   * namespace filter: the subscriber's namespaces, or all when "*"; events without a namespace
//     (Node) always pass;
//   * a frame is only produced when at least one event of the entry survives filtering.
// Subscribers pull frames with Drain(); a front end learns about new data through the publish
// listener. Close() models the server ending a stream (fault injection, ACL change).
// Single-threaded, like the rest of the model.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/nomad/event.h"

namespace nsg::sim {

struct SubscribeRequest {
  // topic → keys; a key "*" (or an empty set) means every key. Topic "*" matches every topic.
  std::map<std::string, std::set<std::string>> topics;
  // Namespaces to pass; {"*"} means all.
  std::set<std::string> namespaces = {"default"};
  uint64_t index = 0;
};

class EventBroker {
 public:
  explicit EventBroker(size_t buffer_size);

  // Appends one ring entry (all events share `index`). Events with an empty vector are ignored.
  void Publish(uint64_t index, std::vector<nomad::Event> events);

  // Returns a subscription id; the backlog per the start-index rules is queued at once.
  uint64_t Subscribe(const SubscribeRequest& req);
  // Frames queued for `sub` since the last Drain (each frame = one ring entry after filtering).
  std::vector<nomad::Frame> Drain(uint64_t sub);
  bool HasPending(uint64_t sub) const;
  // Ends a subscription (it reports IsClosed and yields no more frames); Unsubscribe forgets it.
  void Close(uint64_t sub);
  void CloseAll();
  bool IsClosed(uint64_t sub) const;
  void Unsubscribe(uint64_t sub);

  // Called after every Publish that queued frames for at least one subscriber.
  void SetPublishListener(std::function<void()> fn) { on_publish_ = std::move(fn); }

  // Oldest/newest index in the ring (0 when empty).
  uint64_t OldestIndex() const;
  uint64_t NewestIndex() const;

 private:
  struct Entry {
    uint64_t index;
    std::vector<nomad::Event> events;
  };
  struct Sub {
    SubscribeRequest req;
    std::deque<nomad::Frame> pending;
    bool closed = false;
  };
  // Whether `ev` passes `req`; *times = how often it is delivered (Nomad duplicates).
  bool Matches(const SubscribeRequest& req, const nomad::Event& ev, int* times) const;
  void Enqueue(Sub& s, const Entry& e);

  const size_t buffer_size_;
  std::deque<Entry> ring_;
  uint64_t next_sub_ = 1;
  std::map<uint64_t, Sub> subs_;
  std::function<void()> on_publish_;
};

}  // namespace nsg::sim
