#include "controller/controller_io/spec_set.h"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "controller/controller_io/spec_files.h"
#include "controller/render/compact.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/loader.h"

namespace nsg::io {

using runtime::SpecEntry;
using runtime::SpecSet;

SpecSet LoadSpecSet(const std::string& dir, const SpecSet& previous, const std::string& revision) {
  SpecSet out = BuildSpecSet(ReadSpecDirectory(dir), previous, revision);
  out.dir = dir;
  return out;
}

SpecSet BuildSpecSet(const SpecFiles& files, const SpecSet& previous,
                     const std::string& revision) {
  SpecSet out;
  out.revision = revision;
  // The check of each singleton renders it: keep what it rendered, by document, for the entry.
  const render::RenderOptions options{.source_path = "", .git_revision = revision};
  // (LoadSpecs runs the check on several threads: the map is shared.)
  // Each is kept compact (render/compact.h), made on the loader's threads.
  std::map<std::pair<std::string, int>, render::CompactRendered> checked;
  std::mutex checked_mu;
  const spec::LoadResult loaded = spec::LoadSpecs(
      files.files, [&](const spec::Singleton& s, std::vector<spec::Diagnostic>& diags) {
        if (auto r = render::CheckAndRender(s, options, diags)) {
          render::CompactRendered compact = render::CompactRendered::From(*r);
          std::lock_guard lock(checked_mu);
          checked.insert_or_assign({s.source.file, s.source.line}, std::move(compact));
        }
      });

  // Document starts per file, to attribute each diagnostic to its document.
  std::map<std::string, std::set<int>> starts;
  for (const auto& s : loaded.valid) starts[s.source.file].insert(s.source.line);
  for (const auto& inv : loaded.invalid) starts[inv.pos.file].insert(inv.pos.line);
  auto doc_of = [&](const std::string& file, int line) {
    int start = 0;
    for (int s : starts[file]) {
      if (s <= line) start = s;
    }
    return start;
  };
  auto set_invalid = [](SpecEntry& e, std::vector<std::string> errors,
                        const std::string& reason = "") {
    e.desired.state = reconcile::SpecState::kInvalid;
    e.desired.rendered.reset();
    e.desired.invalid_reason = reason;
    e.lock_path.clear();
    e.errors = std::move(errors);
    std::string msg;
    for (const auto& m : e.errors) msg += (msg.empty() ? "" : "; ") + m;
    e.desired.invalid_message = msg;
    e.fingerprint = "invalid|" + reason + "|" + msg;
  };

  for (const auto& s : loaded.valid) {
    SpecEntry e;
    e.source = s.source.file;
    e.revision = revision;
    e.desired.key = s.Key();
    e.desired.adopt = s.spec.adopt;
    auto keep = s.metadata.annotations.find(spec::kAnnotationKeep);
    e.desired.keep_on_delete = keep != s.metadata.annotations.end() && keep->second == "true";
    auto done = checked.find({s.source.file, s.source.line});
    auto rendered = [&]() -> base::Result<render::CompactRendered> {
      if (done != checked.end()) return std::move(done->second);
      auto r = render::Render(s, options);
      if (!r.ok()) return r.status();
      return render::CompactRendered::From(*r);
    }();
    if (rendered.ok()) {
      e.desired.state = reconcile::SpecState::kValid;
      e.lock_path = s.spec.lock.path;
      e.fingerprint = "valid|" + rendered.value().spec_hash + "|" + e.source + "|" +
                      (e.desired.adopt ? "adopt" : "") + "|" +
                      (e.desired.keep_on_delete ? "keep" : "");
      e.desired.rendered =
          std::make_shared<const render::CompactRendered>(std::move(rendered).value());
    } else {
      set_invalid(e, {rendered.status().message()});
    }
    out.entries[e.desired.key] = std::move(e);
  }
  std::set<std::string> broken_files;  // files with a document whose key could not be read
  for (const auto& inv : loaded.invalid) {
    if (inv.key.empty()) {
      broken_files.insert(inv.pos.file);
      out.unreadable.push_back(inv.pos.file + ":" + std::to_string(inv.pos.line) +
                               ": a document whose metadata.name cannot be read");
      continue;
    }
    SpecEntry e;
    e.source = inv.pos.file;
    e.revision = revision;
    e.desired.key = inv.key;
    const int start = doc_of(inv.pos.file, inv.pos.line);
    std::vector<std::string> errors;
    for (const auto& d : loaded.errors) {
      if (d.pos.file == inv.pos.file && doc_of(d.pos.file, d.pos.line) == start) {
        errors.push_back(d.ToString());
      }
    }
    if (errors.empty()) errors.push_back("the spec is invalid");
    set_invalid(e, std::move(errors));
    auto prev = previous.entries.find(inv.key);
    if (prev != previous.entries.end()) {
      e.desired.keep_on_delete = prev->second.desired.keep_on_delete;
    }
    out.entries[inv.key] = std::move(e);
  }
  for (const auto& d : files.errors) {
    broken_files.insert(d.pos.file);
    out.file_errors.push_back(d.ToString());
    out.unreadable.push_back(d.ToString());
  }
  // A file that holds no document was emptied or truncated (a non-atomic writer, a full disk):
  // deleting a spec means deleting its file.
  for (const auto& f : files.files) {
    if (starts.count(f.path) != 0) continue;
    const std::string why =
        f.path + ": holds no Singleton document (emptied or truncated?); delete the file to "
                 "delete its specs";
    broken_files.insert(f.path);
    out.file_errors.push_back(why);
    out.unreadable.push_back(why);
  }
  for (const auto& d : loaded.errors) {
    if (broken_files.count(d.pos.file) != 0) out.file_errors.push_back(d.ToString());
  }
  // While any part of the source could not be read, no key disappears: one that is gone stays,
  // as invalid (SourceUnreadable), with the problem of its own file or directory when there is
  // one. A deletion is believed only from a complete read (runtime::DeletionUnconfirmed).
  if (out.unreadable.empty()) return out;
  for (const auto& [key, prev] : previous.entries) {
    if (out.entries.count(key) != 0) continue;
    std::string why;
    for (const auto& d : files.errors) {
      if (d.pos.file == prev.source || runtime::IsInsideDirectory(prev.source, d.pos.file)) why = d.ToString();
    }
    if (why.empty() && broken_files.count(prev.source) != 0) {
      why = prev.source + ": the file could not be read completely (see the controller log)";
    }
    if (why.empty()) {
      why = "the spec source could not be read completely (" + out.unreadable.front() +
            "): no spec counts as deleted until it can be read";
    }
    SpecEntry e = prev;
    set_invalid(e, {why}, reconcile::kReasonSourceUnreadable);
    out.entries[key] = std::move(e);
  }
  return out;
}

}  // namespace nsg::io
