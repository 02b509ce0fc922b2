// A deterministic mutation driver for the fuzz targets when the compiler has no libFuzzer (GCC):
// it runs every corpus input once, then --runs mutated inputs drawn from a seeded PRNG (bit
// flips, interesting bytes, inserted tokens, erased and duplicated ranges, splices of two inputs).
// Not coverage-guided — that is what a clang build with -DNSG_LIBFUZZER=ON is for (README.md
// here) — but it drives the same LLVMFuzzerTestOneInput under ASan and UBSan in every CI run.
//
//   fuzz_<target> [--runs N] [--seed S] [--max-len L] PATH...   (files or directories)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// Tokens of the formats the targets read (JSON, YAML, the lease files' key=value lines).
const char* const kTokens[] = {
    "{",    "}",    "[",     "]",     "\"",   ":",    ",",         "null",    "true",
    "1e309", "-1",  "0",     "18446744073709551616", "-9223372036854775809", "\\u0000",
    "\\ud800", "\n---\n", "  ", "- ",  "&a ",  "*a",   "!!binary ", "~",       "'",
    "\t",   "=",    "\n",    "0x10",  "1.5",  "NaN",  "\"Job\"",   "\"Lock\"", "ttl: ",
    "10s",  "0s",   "-5s",   "999999h", "apiVersion: ", "kind: Singleton\n", "spec:\n",
};
const uint8_t kBytes[] = {0, 1, 0x7f, 0x80, 0xff, '\n', '\r', ' ', '"', '\\', '{', '['};

void Load(const fs::path& p, size_t max_len, std::vector<std::string>& out) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());  // the same order on every machine
    for (const auto& f : files) Load(f, max_len, out);
    return;
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz: cannot read %s\n", p.c_str());
    std::exit(2);
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > max_len) data.resize(max_len);
  out.push_back(std::move(data));
}

void Run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937_64& rng, size_t max_len) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  std::string s = corpus[pick(corpus.size())];
  const int steps = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < steps; ++i) {
    const size_t at = pick(s.size() + 1);
    switch (pick(7)) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(kBytes[pick(sizeof(kBytes))]);
        break;
      case 2:
        s.insert(at, kTokens[pick(std::size(kTokens))]);
        break;
      case 3:
        s.erase(at, pick(16) + 1);
        break;
      case 4:
        if (at < s.size()) s.insert(pick(s.size() + 1), s.substr(at, pick(32) + 1));
        break;
      case 5: {
        const std::string& other = corpus[pick(corpus.size())];
        const size_t from = pick(other.size() + 1);
        s = s.substr(0, at) + other.substr(from);
        break;
      }
      default:
        s.insert(at, 1, static_cast<char>(rng() & 0xff));
        break;
    }
  }
  if (s.size() > max_len) s.resize(max_len);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 10000;
  unsigned long long seed = 1;
  size_t max_len = 64 * 1024;
  std::vector<std::string> corpus;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--runs" || a == "--seed" || a == "--max-len") && i + 1 < argc) {
      const char* v = argv[++i];
      if (a == "--runs") runs = std::strtol(v, nullptr, 10);
      if (a == "--seed") seed = std::strtoull(v, nullptr, 10);
      if (a == "--max-len") max_len = std::strtoul(v, nullptr, 10);
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [--runs N] [--seed S] [--max-len L] PATH...\n", argv[0]);
      return 2;
    } else {
      paths.emplace_back(a);
    }
  }
  for (const auto& p : paths) Load(p, max_len, corpus);
  corpus.emplace_back();  // the empty input
  for (const auto& s : corpus) Run(s);
  std::mt19937_64 rng(seed);
  for (long i = 0; i < runs; ++i) Run(Mutate(corpus, rng, max_len));
  std::printf("fuzz: %zu corpus inputs and %ld mutations (seed %llu): no crash\n", corpus.size(),
              runs, seed);
  return 0;
}
