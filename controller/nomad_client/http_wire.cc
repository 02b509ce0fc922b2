#include "controller/nomad_client/http_wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace nsg::io {
namespace {

using base::Status;

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kMaxChunkLine = 1024;

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ContainsTokenIgnoreCase(std::string_view list, std::string_view token) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string_view item =
        TrimOws(list.substr(start, comma == std::string_view::npos ? list.npos : comma - start));
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

}  // namespace

base::Result<std::string> SerializeRequest(const HttpRequest& request, std::string_view host,
                                           bool connection_close) {
  std::string out;
  out.reserve(256 + request.body.size());
  out += request.method;
  out += ' ';
  out += RequestTarget(request);
  out += " HTTP/1.1\r\n";
  if (!request.headers.Has("Host")) {
    out += "Host: ";
    out += host;
    out += "\r\n";
  }
  for (const auto& [name, value] : request.headers.fields()) {
    if (!IsValidHeaderValue(name) || !IsValidHeaderValue(value) ||
        name.find(':') != std::string::npos) {
      std::string shown = IsValidHeaderValue(name) ? name : std::string("<invalid name>");
      return Status::InvalidSpec("header \"" + shown + "\" contains CR, LF, NUL or ':'");
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!request.body.empty() && !request.headers.Has("Content-Type")) {
    out += "Content-Type: application/json\r\n";
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  if (connection_close) out += "Connection: close\r\n";
  out += "\r\n";
  out += request.body;
  return out;
}

Status HttpResponseParser::Fail(std::string msg) {
  state_ = State::kDone;
  return Status::Unavailable("malformed HTTP response: " + msg);
}

Status HttpResponseParser::ParseHead() {
  // buf_ holds the head without its final CRLF CRLF.
  std::string_view head = buf_;
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) {
    return Fail("bad status line");
  }
  size_t sp = status_line.find(' ');
  if (sp == std::string_view::npos || sp + 4 > status_line.size()) return Fail("bad status line");
  std::string_view code = status_line.substr(sp + 1, 3);
  auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), status_);
  if (ec != std::errc() || ptr != code.data() + 3 || status_ < 100 || status_ > 999) {
    return Fail("bad status code");
  }
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return Fail("bad header line");
    headers_.Add(std::string(line.substr(0, colon)), std::string(TrimOws(line.substr(colon + 1))));
  }
  buf_.clear();

  bool no_body = head_request_ || status_ == 204 || status_ == 304 || status_ / 100 == 1;
  const std::string* te = headers_.Find("Transfer-Encoding");
  const std::string* cl = headers_.Find("Content-Length");
  if (no_body) {
    framing_ = Framing::kNone;
    state_ = State::kDone;
  } else if (te != nullptr && ContainsTokenIgnoreCase(*te, "chunked")) {
    framing_ = Framing::kChunked;
    state_ = State::kChunkSize;
  } else if (cl != nullptr) {
    uint64_t n = 0;
    auto [p, e] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (e != std::errc() || p != cl->data() + cl->size()) return Fail("bad Content-Length");
    framing_ = Framing::kLength;
    remaining_ = n;
    content_length_ = n;
    state_ = n == 0 ? State::kDone : State::kBody;
  } else {
    framing_ = Framing::kClose;
    state_ = State::kBody;
  }
  return Status::Ok();
}

Status HttpResponseParser::Feed(std::string_view data,
                                const std::function<bool(std::string_view)>& on_body) {
  while (!data.empty() && state_ != State::kDone) {
    switch (state_) {
      case State::kHeaders: {
        // Search only where the terminator can newly appear.
        size_t old = buf_.size();
        buf_.append(data);
        size_t from = old >= 3 ? old - 3 : 0;
        size_t end = buf_.find("\r\n\r\n", from);
        if (end == std::string::npos) {
          if (buf_.size() > kMaxHead) return Fail("headers too large");
          return Status::Ok();
        }
        size_t consumed = end + 4 - old;
        data.remove_prefix(consumed);
        buf_.resize(end);
        if (Status s = ParseHead(); !s.ok()) return s;
        break;
      }
      case State::kBody: {
        size_t n = data.size();
        if (framing_ == Framing::kLength) n = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
        std::string_view part = data.substr(0, n);
        data.remove_prefix(n);
        if (framing_ == Framing::kLength) {
          remaining_ -= n;
          if (remaining_ == 0) state_ = State::kDone;
        }
        if (!part.empty() && !on_body(part)) return Status::Ok();
        break;
      }
      case State::kChunkSize:
      case State::kTrailers: {
        size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
          buf_.append(data);
          if (buf_.size() > kMaxChunkLine) return Fail("chunk line too long");
          return Status::Ok();
        }
        buf_.append(data.substr(0, nl));
        data.remove_prefix(nl + 1);
        std::string_view line = TrimOws(buf_);
        if (state_ == State::kTrailers) {
          bool end = line.empty();
          buf_.clear();
          if (end) state_ = State::kDone;
          break;
        }
        size_t semi = line.find(';');
        std::string_view hex = TrimOws(line.substr(0, semi));
        uint64_t size = 0;
        auto [p, e] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
        if (hex.empty() || e != std::errc() || p != hex.data() + hex.size()) {
          return Fail("bad chunk size");
        }
        buf_.clear();
        if (size == 0) {
          state_ = State::kTrailers;
        } else {
          remaining_ = size;
          state_ = State::kChunkData;
        }
        break;
      }
      case State::kChunkData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), remaining_));
        std::string_view part = data.substr(0, n);
        data.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kChunkDataEnd;
        if (!on_body(part)) return Status::Ok();
        break;
      }
      case State::kChunkDataEnd: {
        // The CRLF after the chunk data; tolerate a bare LF.
        size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
          buf_.append(data);
          if (buf_.size() > 2) return Fail("missing CRLF after chunk");
          return Status::Ok();
        }
        buf_.append(data.substr(0, nl));
        data.remove_prefix(nl + 1);
        if (!TrimOws(buf_).empty()) return Fail("missing CRLF after chunk");
        buf_.clear();
        state_ = State::kChunkSize;
        break;
      }
      case State::kDone:
        break;
    }
  }
  return Status::Ok();
}

Status HttpResponseParser::FinishEof() {
  if (state_ == State::kDone) return Status::Ok();
  if (state_ == State::kBody && framing_ == Framing::kClose) {
    state_ = State::kDone;
    return Status::Ok();
  }
  if (state_ == State::kHeaders) {
    return Status::Unavailable(buf_.empty() ? "connection closed before the response"
                                            : "connection closed inside the response headers");
  }
  return Status::Unavailable("connection closed inside the response body");
}

}  // namespace nsg::io
