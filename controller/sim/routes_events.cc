// GET /v1/event/stream: command/agent/event_endpoint.go and nomad/event_endpoint.go
// (nomad-api.md §4). Frames come from SimCore's EventBroker, which applies the start-index,
// topic, key and namespace rules; this file adds the HTTP layer, ACL checks, heartbeats, the
// per-event `list` filter on Variable events and the two framings.
#include <set>

#include "controller/sim/cluster.h"
#include "controller/sim/router.h"

namespace nsg::sim {
namespace {

const std::set<std::string>& JobReadTopics() {
  static const std::set<std::string> k = {"Allocation", "Job",     "Evaluation",
                                          "Deployment", "Service", "CSIPlugin"};
  return k;
}

// Whether `who` may subscribe to `topic` in namespace `ns` (nomad/event_endpoint.go).
bool AllowTopic(const AclState& acl, const Identity& who, const std::string& topic,
                const std::string& ns, const nomad::NomadVersion& version) {
  if (acl.IsManagement(who)) return true;
  if (JobReadTopics().count(topic)) return acl.AllowNamespace(who, ns, "read-job");
  if (topic == "Node") return acl.AllowNode(who, /*write=*/false);
  if (topic == "HostVolume") return acl.AllowNamespace(who, ns, "host-volume-read");
  if (topic == "CSIVolume") return acl.AllowNamespace(who, ns, "csi-read-volume");
  // Before 2.0.0 "Variable" is an unknown topic (no TopicVariable in nomad/structs/event.go
  // @ v1.11.3): management only, and it never matches.
  if (topic == "Variable" && nomad::HasVariableTopic(version)) {
    return acl.HasAnyVariableAccess(who, ns);
  }
  // "*", NodePool, ACL*, Operator (operator:read is not modelled) and unknown topics.
  return false;
}

}  // namespace

std::vector<std::string> Router::KnownNamespaces() const {
  // The simulator has no namespace table: a namespace exists once something lives in it.
  std::set<std::string> ns = {"default"};
  for (const std::string& n : vars_.Namespaces()) ns.insert(n);
  if (cluster_ != nullptr) {
    for (const nomad::Job& j : cluster_->ListJobs("*", "")) ns.insert(j.namespace_);
  }
  return {ns.begin(), ns.end()};
}

uint64_t Router::SubmitStream(Request req, std::shared_ptr<StreamSink> sink,
                              StreamFraming framing) {
  Account(req);
  // Faults and partitions apply as for Submit (latency is not modelled for streams).
  if (FromPartitionedAlloc(req)) {
    dropped_streams_.push_back(std::move(sink));
    return 0;
  }
  if (Fault* match = MatchFault(req)) {
    Fault f = *match;
    if (match->count > 0 && --match->count == 0) {
      faults_.erase(faults_.begin() + (match - faults_.data()));
    }
    if (f.drop) {
      dropped_streams_.push_back(std::move(sink));
      return 0;
    }
    if (f.status != 0) {
      sink->Reply(Text(f.status, f.body));
      return 0;
    }
  }

  // Checks done before the hijack: proper 4xx responses in both framings.
  if (req.method != "GET") {
    sink->Reply(MethodNotAllowed());
    return 0;
  }
  SubscribeRequest sub;
  if (std::string idx = req.Get("index"); !idx.empty()) {
    // strconv.Atoi
    bool neg = idx[0] == '-' || idx[0] == '+';
    std::string digits = neg ? idx.substr(1) : idx;
    bool ok = !digits.empty() && digits.size() < 19 &&
              std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!ok) {
      sink->Reply(Text(400, "Unable to parse index: strconv.Atoi: parsing \"" + idx +
                                "\": invalid syntax"));
      return 0;
    }
    sub.index = idx[0] == '-' ? 0 : std::stoull(digits);
  }
  std::vector<std::string> topic_values = req.GetAll("topic");
  if (topic_values.empty()) {
    sub.topics["*"] = {"*"};
  } else {
    for (const std::string& t : topic_values) {
      size_t colon = t.find(':');
      if (colon == std::string::npos) {
        sub.topics[t].insert("*");
        continue;
      }
      if (t.find(':', colon + 1) != std::string::npos) {
        sink->Reply(Text(400,
                         "Invalid topic query: error parsing topics: Invalid key value pair for "
                         "topic, topic: " +
                             t));
        return 0;
      }
      sub.topics[t.substr(0, colon)].insert(t.substr(colon + 1));
    }
  }
  std::string ns = req.Get("namespace");
  if (ns.empty()) ns = "default";
  std::vector<std::string> namespaces = ns == "*" ? KnownNamespaces() : std::vector{ns};
  sub.namespaces = std::set<std::string>(namespaces.begin(), namespaces.end());

  Reply head = Empty(200);
  head.content_type = kContentTypeJson;
  head.headers.emplace_back("Cache-Control", "no-cache");
  if (framing == StreamFraming::kCloseDelimited) {
    // >= 1.11.2: "HTTP/1.x 200 OK" goes out before ACLs are checked or anything subscribes.
    head.headers.emplace_back("Connection", "close");
    sink->Open(head);
  }
  std::string token = TokenOf(req);
  auto who = acl_.Resolve(token);
  bool allowed = who.ok();
  for (const std::string& n : namespaces) {
    for (const auto& [topic, keys] : sub.topics) {
      if (allowed && !AllowTopic(acl_, *who, topic, n, core_.Version())) allowed = false;
    }
  }
  if (!allowed) {
    if (framing == StreamFraming::kCloseDelimited) {
      sink->Close();  // 200, then EOF
    } else {
      sink->Reply(Forbidden());
    }
    return 0;
  }
  if (framing == StreamFraming::kChunked) sink->Open(head);

  uint64_t id = next_id_++;
  auto s = std::make_unique<Stream>();
  s->id = id;
  s->sink = std::move(sink);
  s->token = std::move(token);
  s->sub = core_.Events().Subscribe(sub);
  Stream& ref = *s;
  streams_.emplace(id, std::move(s));
  ref.sink->Write("{}\n");  // the heartbeat right after subscribing
  PumpStream(ref);
  if (streams_.count(id)) ArmHeartbeat(id);
  return id;
}

void Router::ArmHeartbeat(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second->heartbeat_timer = core_.After(opts_.event_heartbeat, "event-stream-heartbeat",
                                            [this, id]() {
                                              auto s = streams_.find(id);
                                              if (s == streams_.end()) return;
                                              s->second->heartbeat_timer = 0;
                                              s->second->sink->Write("{}\n");
                                              ArmHeartbeat(id);
                                            });
}

void Router::CancelStream(uint64_t id) { CloseStream(id, /*notify_sink=*/false); }

size_t Router::CloseStreams() {
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : streams_) ids.push_back(id);
  for (uint64_t id : ids) CloseStream(id, /*notify_sink=*/true);
  return ids.size();
}

void Router::CloseStream(uint64_t id, bool notify_sink) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  if (s->heartbeat_timer != 0) core_.Cancel(s->heartbeat_timer);
  core_.Events().Unsubscribe(s->sub);
  if (notify_sink) s->sink->Close();
}

void Router::PumpStreams() {
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : streams_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = streams_.find(id);
    if (it != streams_.end()) PumpStream(*it->second);
  }
}

void Router::PumpStream(Stream& s) {
  uint64_t id = s.id;
  // A deleted token (a stopped allocation's workload identity) ends the subscription
  // ("subscription closed by server, client should resubscribe"); after the hijack the client
  // just sees EOF.
  auto who = acl_.Resolve(s.token);
  if (!who.ok()) {
    CloseStream(id, /*notify_sink=*/true);
    return;
  }
  for (nomad::Frame& frame : core_.Events().Drain(s.sub)) {
    // Variable events are filtered by `list` on their path (nomad-api.md §2.9).
    std::erase_if(frame.events, [&](const nomad::Event& ev) {
      return ev.topic == "Variable" &&
             !(acl_.VariableCapabilities(*who, ev.namespace_, ev.key, /*use_claims=*/true) &
               kVarList);
    });
    if (frame.events.empty()) continue;
    s.sink->Write(nomad::EncodeFrame(frame));
  }
  if (core_.Events().IsClosed(s.sub)) CloseStream(id, /*notify_sink=*/true);
}

}  // namespace nsg::sim
