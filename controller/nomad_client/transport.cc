#include "controller/nomad_client/transport.h"

#include <cctype>

namespace nsg::io {

std::string ResponseTooLarge(size_t max_response_bytes) {
  return "response larger than " + std::to_string(max_response_bytes) + " bytes";
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void Headers::Set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
  Add(std::move(name), std::move(value));
}

const std::string* Headers::Find(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

std::string Headers::Get(std::string_view name) const {
  const std::string* v = Find(name);
  return v ? *v : std::string();
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string EscapePath(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    out += PercentEncode(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

std::string RequestTarget(const HttpRequest& request) {
  std::string target = request.path.empty() ? std::string("/") : request.path;
  char sep = '?';
  for (const auto& [k, v] : request.query) {
    target.push_back(sep);
    sep = '&';
    target += PercentEncode(k);
    if (!v.empty()) {
      target.push_back('=');
      target += PercentEncode(v);
    }
  }
  return target;
}

bool IsValidHeaderValue(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace nsg::io
