// HTTP/1.1 on the wire, for transports that speak it themselves (UnixSocketTransport) and for the
// test servers: a request serializer and an incremental response parser.
//
// The parser handles the three body framings Nomad uses: Content-Length, Transfer-Encoding:
// chunked (ordinary responses and event streams before 1.11.2) and close-delimited (event streams
// from 1.11.2 on hijack the connection and write raw NDJSON until they close it; nomad-api.md
// §4.2). Chunk extensions and trailers are skipped. Limits: 64 KiB of status line plus headers,
// 1 KiB per chunk-size line.
//
// Not synchronized: one parser per response, owned by the reading thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "controller/base/status.h"
#include "controller/nomad_client/transport.h"

namespace nsg::io {

// "METHOD target HTTP/1.1\r\nHost: host\r\n<headers>Content-Length..\r\n\r\n<body>". Adds
// Content-Length (and Content-Type: application/json for a non-empty body unless set). Fails
// (kInvalidSpec) for a header value containing CR or LF; the message names the header, never its
// value.
base::Result<std::string> SerializeRequest(const HttpRequest& request, std::string_view host,
                                           bool connection_close);

class HttpResponseParser {
 public:
  // For a HEAD request the response has no body whatever its headers say.
  explicit HttpResponseParser(bool head_request = false) : head_request_(head_request) {}

  // Consumes `data`. Body bytes (de-chunked) are passed to `on_body`, which returns false to stop
  // (Feed then returns OK at once, and the rest of `data` is dropped). kUnavailable on malformed
  // input. Bytes after the end of the response are ignored.
  base::Status Feed(std::string_view data, const std::function<bool(std::string_view)>& on_body);
  // The peer closed the connection: OK when the response is complete (close-delimited bodies
  // end here), kUnavailable when it was cut short.
  base::Status FinishEof();

  bool headers_done() const { return state_ > State::kHeaders; }
  bool done() const { return state_ == State::kDone; }
  int status() const { return status_; }
  const Headers& headers() const { return headers_; }
  // How the body is framed (valid once headers_done()).
  enum class Framing { kNone, kLength, kChunked, kClose };
  Framing framing() const { return framing_; }
  // The Content-Length of a kLength body (valid once headers_done()).
  uint64_t content_length() const { return content_length_; }

 private:
  enum class State { kHeaders, kBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kDone };

  base::Status ParseHead();
  base::Status Fail(std::string msg);

  bool head_request_;
  State state_ = State::kHeaders;
  Framing framing_ = Framing::kNone;
  std::string buf_;  // unparsed bytes of the head, a chunk-size line or trailers
  int status_ = 0;
  Headers headers_;
  uint64_t remaining_ = 0;  // of Content-Length or the current chunk
  uint64_t content_length_ = 0;
};

}  // namespace nsg::io
