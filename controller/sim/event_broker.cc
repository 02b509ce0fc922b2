#include "controller/sim/event_broker.h"

#include <algorithm>

namespace nsg::sim {

EventBroker::EventBroker(size_t buffer_size) : buffer_size_(buffer_size == 0 ? 1 : buffer_size) {}

bool EventBroker::Matches(const SubscribeRequest& req, const nomad::Event& ev, int* times) const {
  if (!ev.namespace_.empty() && !req.namespaces.count("*") && !req.namespaces.count(ev.namespace_)) {
    return false;
  }
  int n = 0;
  for (const auto& [topic, keys] : req.topics) {
    if (topic != "*" && topic != ev.topic) continue;
    if (keys.empty() || keys.count("*")) {
      ++n;
      continue;
    }
    // Nomad's quirk: every matching key delivers the event once more (nomad-api.md §4.4).
    for (const std::string& k : keys) {
      if (k == ev.key) {
        ++n;
        continue;
      }
      n += static_cast<int>(std::count(ev.filter_keys.begin(), ev.filter_keys.end(), k) > 0);
    }
  }
  *times = n;
  return n > 0;
}

void EventBroker::Enqueue(Sub& s, const Entry& e) {
  nomad::Frame frame;
  frame.index = e.index;
  for (const nomad::Event& ev : e.events) {
    int times = 0;
    if (!Matches(s.req, ev, &times)) continue;
    for (int i = 0; i < times; ++i) frame.events.push_back(ev);
  }
  if (!frame.events.empty()) s.pending.push_back(std::move(frame));
}

void EventBroker::Publish(uint64_t index, std::vector<nomad::Event> events) {
  if (events.empty()) return;
  for (auto& ev : events) ev.index = index;
  ring_.push_back(Entry{index, std::move(events)});
  while (ring_.size() > buffer_size_) ring_.pop_front();
  bool queued = false;
  for (auto& [id, s] : subs_) {
    if (s.closed) continue;
    size_t before = s.pending.size();
    Enqueue(s, ring_.back());
    queued = queued || s.pending.size() > before;
  }
  if (queued && on_publish_) on_publish_();
}

uint64_t EventBroker::Subscribe(const SubscribeRequest& req) {
  uint64_t id = next_sub_++;
  Sub& s = subs_[id];
  s.req = req;
  if (!ring_.empty()) {
    // Start entry per nomad-api.md §4.5 (event_buffer.go StartAtClosest).
    size_t start = 0;
    if (req.index == 0 || req.index <= ring_.front().index) {
      start = 0;
    } else if (req.index > ring_.back().index) {
      start = ring_.size() - 1;
    } else {
      while (start < ring_.size() && ring_[start].index < req.index) ++start;
    }
    for (size_t i = start; i < ring_.size(); ++i) Enqueue(s, ring_[i]);
  }
  return id;
}

std::vector<nomad::Frame> EventBroker::Drain(uint64_t sub) {
  std::vector<nomad::Frame> out;
  auto it = subs_.find(sub);
  if (it == subs_.end()) return out;
  out.assign(std::make_move_iterator(it->second.pending.begin()),
             std::make_move_iterator(it->second.pending.end()));
  it->second.pending.clear();
  return out;
}

bool EventBroker::HasPending(uint64_t sub) const {
  auto it = subs_.find(sub);
  return it != subs_.end() && !it->second.pending.empty();
}

void EventBroker::Close(uint64_t sub) {
  auto it = subs_.find(sub);
  if (it == subs_.end()) return;
  it->second.closed = true;
  it->second.pending.clear();
  if (on_publish_) on_publish_();
}

void EventBroker::CloseAll() {
  for (auto& [id, s] : subs_) {
    s.closed = true;
    s.pending.clear();
  }
  if (on_publish_) on_publish_();
}

bool EventBroker::IsClosed(uint64_t sub) const {
  auto it = subs_.find(sub);
  return it == subs_.end() || it->second.closed;
}

void EventBroker::Unsubscribe(uint64_t sub) { subs_.erase(sub); }

uint64_t EventBroker::OldestIndex() const { return ring_.empty() ? 0 : ring_.front().index; }
uint64_t EventBroker::NewestIndex() const { return ring_.empty() ? 0 : ring_.back().index; }

}  // namespace nsg::sim
