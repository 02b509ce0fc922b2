// `nomad-singleton status [--addr HOST:PORT] [--json]`: asks a running controller for its /status
// document (app/controller.cc, StatusJson) and prints one table row per singleton, or the
// document itself with --json. Exit 0 when the controller has synced and every singleton is
// Ready, 2 when some are not (so CI can gate on it), 1 when the controller cannot be asked.
//
// Reads the document leniently: fields a controller does not send (an older one, or a singleton
// not reconciled yet) print as "-". Beyond the fields every controller sends (singleton, valid,
// job, allocations, conditions), it shows these when present:
//   "lock": {"holder": "<alloc id>" | null, "epoch": N}    HOLDER, EPOCH, roles in ALLOCS
//   "desired_allocations": N (1 + standby)                  the denominator of ALLOCS
//   "last_failover": {"duration_seconds": S, "at": UNIX}    LAST FAILOVER
// Single-threaded; runs once per process.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/base/duration.h"
#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/http_transport.h"

namespace nsg::cmd {
namespace {

using Json = nlohmann::json;

// The controller's --http-addr default (app::kDefaultHttpAddr, controller/app/controller.h).
constexpr char kDefaultStatusAddr[] = "127.0.0.1:9464";
constexpr auto kStatusTimeout = std::chrono::seconds(5);
constexpr int kExitNotReady = 2;

const std::vector<FlagSpec> kStatusFlags = {
    {"addr", true, "HOST:PORT",
     "the controller's --http-addr (default 127.0.0.1:9464; http:// may be given)"},
    {"json", false, "", "print the controller's /status JSON document as it is"},
    {"token-file", true, "FILE",
     "the bearer token of a controller started with --http-token-file (the same file)"},
};

void StatusUsage(std::ostream& out) {
  out << "Usage: nomad-singleton status [--addr HOST:PORT] [--json] [--token-file FILE]\n\n"
         "Asks a running controller (GET http://HOST:PORT/status) for the state of every\n"
         "singleton and prints one row each: spec validity, the job in Nomad, running/desired\n"
         "allocations with their roles, the lock holder and its epoch, the Ready, Synced and\n"
         "Degraded conditions, and the last failover.\n\n"
         "Exit status: 0 the controller has synced and every singleton is Ready, 2 some are not,\n"
         "1 the controller could not be asked.\n\nFlags:\n";
  PrintFlags(out, kStatusFlags);
}

// ---- Reading the document ----

std::string Str(const Json& j, const char* key, const std::string& def = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}

std::optional<double> Num(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// The condition of `type` in the singleton's last plan, or null.
const Json* FindCondition(const Json& s, const std::string& type) {
  auto it = s.find("conditions");
  if (it == s.end() || !it->is_array()) return nullptr;
  for (const Json& c : *it) {
    if (c.is_object() && Str(c, "type") == type) return &c;
  }
  return nullptr;
}

bool ConditionTrue(const Json* c) {
  return c != nullptr && c->value("status", false) == true;
}

// "yes", "no", "no (Reason)" or "-" when the singleton has not been reconciled yet.
std::string ConditionCell(const Json* c, bool reason_when_true, bool reason_when_false) {
  if (c == nullptr) return "-";
  const bool status = ConditionTrue(c);
  std::string reason = Str(*c, "reason");
  std::string out = status ? "yes" : "no";
  if (!reason.empty() && (status ? reason_when_true : reason_when_false)) {
    out += " (" + reason + ")";
  }
  return out;
}

std::string ShortId(const std::string& id) { return id.substr(0, 8); }

std::string Seconds(double s, std::chrono::nanoseconds round_to) {
  auto d = std::chrono::duration_cast<base::Duration>(std::chrono::duration<double>(s));
  if (round_to.count() > 0) d = (d + round_to / 2) / round_to * round_to;
  return base::FormatDuration(d);
}

struct Row {
  std::vector<std::string> cells;
  bool ready = false;
};

Row MakeRow(const Json& s, double now_unix) {
  Row row;
  auto& c = row.cells;
  c.push_back(Str(s, "singleton", "?"));

  // VALID
  if (Str(s, "spec") == "deleted") {
    c.push_back("deleted");
  } else if (auto v = s.find("valid"); v != s.end() && v->is_boolean()) {
    c.push_back(v->get<bool>() ? "yes" : "no");
  } else {
    c.push_back("-");
  }

  // JOB
  const Json* job = nullptr;
  if (auto it = s.find("job"); it != s.end() && it->is_object()) job = &*it;
  if (job != nullptr) {
    std::string id = Str(*job, "id", "?");
    auto version = Num(*job, "version");
    c.push_back(version ? id + "@" + std::to_string(static_cast<uint64_t>(*version)) : id);
  } else {
    c.push_back("-");
  }

  // ALLOCS: running/desired (roles), HOLDER, EPOCH
  std::optional<std::string> holder;
  std::optional<double> epoch;
  bool lock_reported = false;
  if (auto it = s.find("lock"); it != s.end() && it->is_object()) {
    lock_reported = true;
    if (auto h = it->find("holder"); h != it->end() && h->is_string() && !h->empty()) {
      holder = h->get<std::string>();
    }
    epoch = Num(*it, "epoch");
  }
  int running = 0;
  bool holder_running = false;
  if (auto it = s.find("allocations"); it != s.end() && it->is_array()) {
    for (const Json& a : *it) {
      if (!a.is_object() || Str(a, "client_status") != "running") continue;
      ++running;
      if (holder && Str(a, "id") == *holder) holder_running = true;
    }
  }
  std::optional<double> desired = Num(s, "desired_allocations");
  std::string allocs = std::to_string(running);
  if (desired) allocs += "/" + std::to_string(static_cast<int>(*desired));
  if (lock_reported && running > 0) {
    // The holder, then standbys up to desired - 1; the rest are extra (to be stopped).
    const int others = running - (holder_running ? 1 : 0);
    std::vector<std::string> roles;
    if (holder_running) roles.push_back("holder");
    if (desired) {
      const int standby_slots = std::max(0, static_cast<int>(*desired) - 1);
      const int standby = std::min(others, standby_slots);
      if (standby > 0) roles.push_back(std::to_string(standby) + " standby");
      if (others > standby) roles.push_back(std::to_string(others - standby) + " extra");
    } else if (others > 0) {
      roles.push_back(std::to_string(others) + " other");
    }
    if (!roles.empty()) {
      std::string joined;
      for (const auto& r : roles) joined += (joined.empty() ? "" : "+") + r;
      allocs += " (" + joined + ")";
    }
  }
  c.push_back(allocs);
  if (!lock_reported) {
    c.push_back("-");
  } else if (holder) {
    c.push_back(ShortId(*holder) + (holder_running ? "" : " (not running)"));
  } else {
    c.push_back("none");
  }
  c.push_back(epoch && *epoch > 0 ? std::to_string(static_cast<uint64_t>(*epoch)) : "-");

  // READY, SYNCED, DEGRADED
  const Json* ready = FindCondition(s, "Ready");
  row.ready = ConditionTrue(ready);
  c.push_back(ConditionCell(ready, false, true));
  c.push_back(ConditionCell(FindCondition(s, "Synced"), false, true));
  c.push_back(ConditionCell(FindCondition(s, "Degraded"), true, false));

  // LAST FAILOVER
  std::string failover = "-";
  if (auto it = s.find("last_failover"); it != s.end() && it->is_object()) {
    auto took = Num(*it, "duration_seconds");
    auto at = Num(*it, "at");
    if (took) failover = Seconds(*took, std::chrono::milliseconds(100));
    if (at) {
      failover += (took ? ", " : "") + Seconds(std::max(0.0, now_unix - *at),
                                               std::chrono::seconds(1)) + " ago";
    }
  }
  c.push_back(failover);
  return row;
}

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.cells.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r.cells[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      s += cells[i];
      if (i + 1 < cells.size()) s += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out << s << "\n";
  };
  line(header);
  for (const Row& r : rows) line(r.cells);
}

}  // namespace

base::Result<std::string> FetchControllerStatus(const std::string& addr,
                                                const std::string& token) {
  const std::string hint = " (is the controller running? give its --http-addr with --addr)";
  io::ClientConfig cfg;
  cfg.address = addr.find("://") == std::string::npos ? "http://" + addr : addr;
  cfg.request_timeout = kStatusTimeout;
  if (base::Status st = cfg.Validate(); !st.ok()) {
    return base::Status::InvalidSpec("--addr " + addr + ": " + st.message());
  }
  auto transport = io::MakeTransport(cfg);
  if (!transport.ok()) return transport.status();
  io::HttpRequest req;
  req.method = "GET";
  req.path = "/status";
  if (!token.empty()) req.headers.Add("Authorization", "Bearer " + token);
  std::stop_source never;
  auto resp = (*transport)->RoundTrip(req, {kStatusTimeout, never.get_token()});
  if (!resp.ok()) {
    return base::Status::Unavailable("cannot reach the controller at " + addr + ": " +
                                     resp.status().message() + hint);
  }
  if (resp->status == 401) {
    return base::Status::Unavailable(
        "the controller at " + addr + " answered 401 to GET /status: " +
        (token.empty() ? "it wants a bearer token (give its --http-token-file with --token-file)"
                       : "the token of --token-file is not the one it was started with"));
  }
  if (resp->status != 200) {
    return base::Status::Unavailable("the controller at " + addr + " answered HTTP " +
                                     std::to_string(resp->status) + " to GET /status" + hint);
  }
  return std::move(resp->body);
}

int StatusMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, kStatusFlags, std::cerr);
  if (!args) {
    StatusUsage(std::cerr);
    return kExitUsage;
  }
  if (args->Has("help")) {
    StatusUsage(std::cout);
    return kExitOk;
  }
  if (!args->positional.empty()) {
    std::cerr << "nomad-singleton status: unexpected argument \"" << args->positional[0]
              << "\" (see --help)\n";
    return kExitUsage;
  }
  const std::string addr = args->Get("addr", kDefaultStatusAddr);
  std::string token;
  if (args->Has("token-file")) {
    auto t = io::ReadTokenFile(args->Get("token-file"));
    if (!t.ok()) {
      std::cerr << "nomad-singleton status: --token-file: " << t.status().message() << "\n";
      return kExitUsage;
    }
    token = *t;
  }
  auto body = FetchControllerStatus(addr, token);
  if (!body.ok()) {
    std::cerr << "nomad-singleton status: " << body.status().message() << "\n";
    return kExitInvalid;
  }
  Json doc = Json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("singletons") || !doc["singletons"].is_array()) {
    std::cerr << "nomad-singleton status: " << addr
              << "/status is not a nomad-singleton controller status document\n";
    return kExitInvalid;
  }

  const bool synced = doc.value("ready", false) == true;
  const double now_unix = std::chrono::duration<double>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  std::vector<Row> rows;
  size_t ready = 0;
  for (const Json& s : doc["singletons"]) {
    if (!s.is_object()) continue;
    rows.push_back(MakeRow(s, now_unix));
    if (rows.back().ready) ++ready;
  }
  const bool all_ready = synced && ready == rows.size();

  if (args->Has("json")) {
    std::cout << *body;
    if (!body->empty() && body->back() != '\n') std::cout << "\n";
  } else {
    std::cout << "controller " << addr << ": "
              << (synced ? "synced" : "not ready (first sync with Nomad pending)");
    if (doc.value("dry_run", false) == true) std::cout << ", dry run";
    std::cout << "; " << ready << " of " << rows.size() << " singletons ready\n";
    if (doc.contains("git") && doc["git"].is_object()) {  // controller --git-url
      const Json& g = doc["git"];
      auto text = [&](const char* key, const std::string& none) {
        return g.contains(key) && g[key].is_string() ? g[key].get<std::string>() : none;
      };
      std::cout << "git " << text("url", "?") << " " << text("ref", "?") << ": at "
                << text("revision", "no commit yet").substr(0, 12);
      if (g.value("last_change_forced", false) == true) std::cout << " (force-pushed)";
      const std::string error = text("last_error", "");
      if (!error.empty()) {
        std::cout << "; last fetch failed, nothing is pruned until one succeeds: " << error;
      }
      std::cout << "\n";
    }
    if (!rows.empty()) {
      std::cout << "\n";
      PrintTable(std::cout,
                 {"SINGLETON", "VALID", "JOB", "ALLOCS", "HOLDER", "EPOCH", "READY", "SYNCED",
                  "DEGRADED", "LAST FAILOVER"},
                 rows);
    }
  }
  return all_ready ? kExitOk : kExitNotReady;
}

}  // namespace nsg::cmd
