#include "controller/lock_io/lease_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace nsg::io {
namespace {

using Fields = std::map<std::string, std::string>;

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// "<magic>\n" + "key value\n"... + "sum <fnv1a64 of everything before>\n".
std::string Encode(const std::string& magic, const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string body = magic + "\n";
  for (const auto& [k, v] : kv) body += k + " " + v + "\n";
  return body + "sum " + Hex(Fnv1a64(body)) + "\n";
}

Result<Fields> Decode(const std::string& magic, const std::string& text) {
  const size_t sum_at = text.rfind("sum ");
  if (text.compare(0, magic.size() + 1, magic + "\n") != 0) {
    return Status::InvalidSpec("not a " + magic + " file");
  }
  if (sum_at == std::string::npos || (sum_at > 0 && text[sum_at - 1] != '\n')) {
    return Status::InvalidSpec(magic + ": no checksum");
  }
  std::string sum = text.substr(sum_at + 4);
  if (!sum.empty() && sum.back() == '\n') sum.pop_back();
  if (sum != Hex(Fnv1a64(std::string_view(text).substr(0, sum_at)))) {
    return Status::InvalidSpec(magic + ": checksum mismatch");
  }
  Fields f;
  size_t pos = magic.size() + 1;
  while (pos < sum_at) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos || nl > sum_at) return Status::InvalidSpec(magic + ": bad line");
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0) return Status::InvalidSpec(magic + ": bad line");
    if (!f.emplace(line.substr(0, sp), line.substr(sp + 1)).second) {
      return Status::InvalidSpec(magic + ": duplicate key " + line.substr(0, sp));
    }
  }
  return f;
}

Result<std::string> Get(const Fields& f, const std::string& key) {
  auto it = f.find(key);
  if (it == f.end()) return Status::InvalidSpec("missing key " + key);
  return it->second;
}

template <typename T>
Result<T> GetNumber(const Fields& f, const std::string& key) {
  auto s = Get(f, key);
  if (!s.ok()) return s.status();
  T v{};
  const std::string& t = *s;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size() || t.empty()) {
    return Status::InvalidSpec("bad number for " + key + ": \"" + t + "\"");
  }
  return v;
}

// Collects the first error of several lookups.
struct Checker {
  Status first;
  template <typename T>
  T Take(Result<T> r) {
    if (!r.ok()) {
      if (first.ok()) first = r.status();
      return T{};
    }
    return std::move(r).value();
  }
};

Status CheckBoot(const std::string& file_boot, const std::string& what) {
  const std::string mine = BootId();
  if (!mine.empty() && file_boot != mine) {
    return Status::InvalidSpec(what + " was written in another boot (" + file_boot + ")");
  }
  return Status::Ok();
}

}  // namespace

TimePoint BootClock::Now() const {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return TimePoint(Duration(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec));
}

std::string BootId() {
  static const std::string id = [] {
    auto r = ReadSmallFile("/proc/sys/kernel/random/boot_id");
    if (!r.ok()) return std::string();
    std::string s = *r;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }();
  return id;
}

std::string_view LeaseStateName(LeaseState s) {
  switch (s) {
    case LeaseState::kHeld: return "held";
    case LeaseState::kStopping: return "stopping";
    case LeaseState::kLost: return "lost";
  }
  return "?";
}

std::string_view WorkloadPhaseName(WorkloadPhase p) {
  switch (p) {
    case WorkloadPhase::kWaiting: return "waiting";
    case WorkloadPhase::kStarting: return "starting";
    case WorkloadPhase::kRunning: return "running";
    case WorkloadPhase::kStopping: return "stopping";
    case WorkloadPhase::kExited: return "exited";
  }
  return "?";
}

namespace {

// `path`'s temporary file ("<path>.tmp.<pid>", the one name WriteFileAtomic and ProbeWritable
// share), written with `content` and fsynced; on failure it is removed and the Status names the
// step.
Result<std::string> WriteTempFile(const std::string& path, const std::string& content,
                                  unsigned mode) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unavailable(Errno("create", tmp));
  ::fchmod(fd, mode);  // not subject to the umask
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = Status::Unavailable(Errno("write", tmp));
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status st = Status::Unavailable(Errno("fsync", tmp));
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  ::close(fd);
  return tmp;
}

}  // namespace

Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  auto tmp = WriteTempFile(path, content, mode);
  if (!tmp.ok()) return tmp.status();
  if (::rename(tmp->c_str(), path.c_str()) != 0) {
    Status st = Status::Unavailable(Errno("rename to", path));
    ::unlink(tmp->c_str());
    return st;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status ProbeWritable(const std::string& path, size_t bytes) {
  auto tmp = WriteTempFile(path, std::string(bytes, '\0'), 0600);
  if (!tmp.ok()) return tmp.status();
  ::unlink(tmp->c_str());
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::Unavailable(Errno("open", path));
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = Status::Unavailable(Errno("read", path));
      ::close(fd);
      return st;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) {
      ::close(fd);
      return Status::InvalidSpec(path + ": too large");
    }
  }
  ::close(fd);
  return out;
}

Status MakeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return Status::Ok();
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string part = path.substr(0, i);
      if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) {
        return Status::Unavailable(Errno("mkdir", part));
      }
    }
  }
  return Status::Ok();
}

// ---- lease ----

std::string EncodeLease(const Lease& l) {
  return Encode("nomad-singleton lease v1",
                {{"state", std::string(LeaseStateName(l.state))},
                 {"epoch", std::to_string(l.epoch)},
                 {"holder", l.holder.empty() ? "-" : l.holder},
                 {"path", l.path.empty() ? "-" : l.path},
                 {"deadline", std::to_string(base::ToNanos(l.deadline))},
                 {"kill_timeout", std::to_string(l.kill_timeout.count())},
                 {"boot_id", l.boot_id.empty() ? "-" : l.boot_id}});
}

Result<Lease> DecodeLease(const std::string& text) {
  auto f = Decode("nomad-singleton lease v1", text);
  if (!f.ok()) return f.status();
  Checker c;
  Lease l;
  const std::string state = c.Take(Get(*f, "state"));
  if (state == "held") {
    l.state = LeaseState::kHeld;
  } else if (state == "stopping") {
    l.state = LeaseState::kStopping;
  } else if (state == "lost") {
    l.state = LeaseState::kLost;
  } else if (c.first.ok()) {
    c.first = Status::InvalidSpec("bad lease state \"" + state + "\"");
  }
  l.epoch = c.Take(GetNumber<uint64_t>(*f, "epoch"));
  l.holder = c.Take(Get(*f, "holder"));
  l.path = c.Take(Get(*f, "path"));
  l.deadline = base::FromNanos(c.Take(GetNumber<int64_t>(*f, "deadline")));
  l.kill_timeout = Duration(c.Take(GetNumber<int64_t>(*f, "kill_timeout")));
  l.boot_id = c.Take(Get(*f, "boot_id"));
  if (!c.first.ok()) return c.first;
  if (l.holder == "-") l.holder.clear();
  if (l.path == "-") l.path.clear();
  if (l.boot_id == "-") l.boot_id.clear();
  if (l.kill_timeout < Duration(0)) return Status::InvalidSpec("negative kill_timeout");
  return l;
}

// ---- workload state ----

std::string EncodeWorkloadState(const WorkloadState& w) {
  return Encode("nomad-singleton workload v1",
                {{"phase", std::string(WorkloadPhaseName(w.phase))},
                 {"epoch", std::to_string(w.epoch)},
                 {"pid", std::to_string(w.pid)},
                 {"guard_pid", std::to_string(w.guard_pid)},
                 {"exit_code", std::to_string(w.exit_code)},
                 {"boot_id", w.boot_id.empty() ? "-" : w.boot_id}});
}

Result<WorkloadState> DecodeWorkloadState(const std::string& text) {
  auto f = Decode("nomad-singleton workload v1", text);
  if (!f.ok()) return f.status();
  Checker c;
  WorkloadState w;
  const std::string phase = c.Take(Get(*f, "phase"));
  bool known = false;
  for (WorkloadPhase p : {WorkloadPhase::kWaiting, WorkloadPhase::kStarting, WorkloadPhase::kRunning,
                          WorkloadPhase::kStopping, WorkloadPhase::kExited}) {
    if (phase == WorkloadPhaseName(p)) {
      w.phase = p;
      known = true;
    }
  }
  if (!known && c.first.ok()) c.first = Status::InvalidSpec("bad workload phase \"" + phase + "\"");
  w.epoch = c.Take(GetNumber<uint64_t>(*f, "epoch"));
  w.pid = c.Take(GetNumber<int64_t>(*f, "pid"));
  w.guard_pid = c.Take(GetNumber<int64_t>(*f, "guard_pid"));
  w.exit_code = c.Take(GetNumber<int>(*f, "exit_code"));
  w.boot_id = c.Take(Get(*f, "boot_id"));
  if (!c.first.ok()) return c.first;
  if (w.boot_id == "-") w.boot_id.clear();
  return w;
}

// ---- handoff ----

std::string EncodeHandoff(const Handoff& h) {
  return Encode("nomad-singleton handoff v1",
                {{"path", h.path},
                 {"namespace", h.namespace_.empty() ? "-" : h.namespace_},
                 {"lock_id", h.lock_id},
                 {"epoch", std::to_string(h.epoch)},
                 {"acquired_at", std::to_string(base::ToNanos(h.acquired_at))},
                 {"boot_id", h.boot_id.empty() ? "-" : h.boot_id}});
}

Result<Handoff> DecodeHandoff(const std::string& text) {
  auto f = Decode("nomad-singleton handoff v1", text);
  if (!f.ok()) return f.status();
  Checker c;
  Handoff h;
  h.path = c.Take(Get(*f, "path"));
  h.namespace_ = c.Take(Get(*f, "namespace"));
  h.lock_id = c.Take(Get(*f, "lock_id"));
  h.epoch = c.Take(GetNumber<uint64_t>(*f, "epoch"));
  h.acquired_at = base::FromNanos(c.Take(GetNumber<int64_t>(*f, "acquired_at")));
  h.boot_id = c.Take(Get(*f, "boot_id"));
  if (!c.first.ok()) return c.first;
  if (h.namespace_ == "-") h.namespace_.clear();
  if (h.boot_id == "-") h.boot_id.clear();
  if (h.lock_id.empty() || h.path.empty()) return Status::InvalidSpec("handoff without lock");
  return h;
}

// ---- read/write with boot checks ----

Status WriteLease(const std::string& path, Lease l) {
  if (l.boot_id.empty()) l.boot_id = BootId();
  return WriteFileAtomic(path, EncodeLease(l), 0644);
}

Status WriteWorkloadState(const std::string& path, WorkloadState w) {
  if (w.boot_id.empty()) w.boot_id = BootId();
  return WriteFileAtomic(path, EncodeWorkloadState(w), 0644);
}

Status WriteHandoff(const std::string& path, Handoff h) {
  if (h.boot_id.empty()) h.boot_id = BootId();
  return WriteFileAtomic(path, EncodeHandoff(h), 0600);
}

Result<Lease> ReadLease(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  auto l = DecodeLease(*text);
  if (!l.ok()) return l;
  if (Status st = CheckBoot(l->boot_id, "lease"); !st.ok()) return st;
  return l;
}

Result<WorkloadState> ReadWorkloadState(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  auto w = DecodeWorkloadState(*text);
  if (!w.ok()) return w;
  if (Status st = CheckBoot(w->boot_id, "workload state"); !st.ok()) return st;
  return w;
}

Result<Handoff> ReadHandoff(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  auto h = DecodeHandoff(*text);
  if (!h.ok()) return h;
  if (Status st = CheckBoot(h->boot_id, "handoff"); !st.ok()) return st;
  return h;
}

bool LeaseAllowsRunning(const Lease& l, TimePoint now) {
  return l.state == LeaseState::kHeld && now < l.deadline;
}

}  // namespace nsg::io
