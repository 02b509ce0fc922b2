// validate and render: offline commands over spec files.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/controller_io/spec_files.h"
#include "controller/nomad/codec.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

namespace nsg::cmd {
namespace {

struct Loaded {
  spec::LoadResult result;
  std::vector<spec::Diagnostic> read_errors;
};

Loaded LoadPaths(const std::vector<std::string>& paths) {
  Loaded out;
  io::SpecFiles files = io::ReadSpecFiles(paths);
  out.read_errors = std::move(files.errors);
  out.result = spec::LoadSpecs(files.files, render::CheckSpec);
  return out;
}

std::string Where(const spec::SourcePos& p) {
  return p.file + ":" + std::to_string(p.line);
}

// Prints every diagnostic to stderr; returns how many there were.
size_t PrintErrors(const Loaded& l) {
  for (const auto& d : l.read_errors) std::cerr << d.ToString() << "\n";
  for (const auto& d : l.result.errors) std::cerr << d.ToString() << "\n";
  return l.read_errors.size() + l.result.errors.size();
}

const std::vector<FlagSpec> kValidateFlags = {
    {"quiet", false, "", "print only errors, not the list of valid singletons"},
};

void ValidateUsage(std::ostream& out) {
  out << "Usage: nomad-singleton validate [flags] PATH...\n\n"
         "Loads Singleton specs from files or directories (recursively, *.yaml and *.yml;\n"
         "multi-document YAML), validates them, including the timer rule, and prints every\n"
         "error as file:line:col: field: message. Then lists the valid and invalid singletons.\n"
         "A path that cannot be read (a subdirectory or spec file without permission, a FIFO or\n"
         "device where a spec file should be) is an error too, as path: cannot read: why.\n\n"
         "Exit status: 0 all valid, 1 at least one error, 2 usage error.\n\nFlags:\n";
  PrintFlags(out, kValidateFlags);
}

const std::vector<FlagSpec> kRenderFlags = {
    {"format", true, "FORMAT", "output format: json (default)"},
    {"explain", false, "", "print the timer budget and job shape in plain words instead of JSON"},
    {"out", true, "DIR", "write DIR/<namespace>/<name>.job.json and .policy.json instead"},
    {"revision", true, "REV", "git revision to record in the job's Meta"},
};

void RenderUsage(std::ostream& out) {
  out << "Usage: nomad-singleton render [flags] PATH...\n\n"
         "Renders each valid Singleton spec into the Nomad job register body ({\"Job\": ...}) and\n"
         "the job's ACL policy, offline and deterministically. Invalid specs are reported as by\n"
         "validate and skipped; the valid ones are still rendered.\n\n"
         "stdout (json): a JSON array with one object per singleton:\n"
         "  {\"Singleton\": \"ns/name\", \"Source\": \"file:line\", \"Register\": {\"Job\": ...},\n"
         "   \"ACLPolicy\": {...}}\n\n"
         "Exit status: 0 all rendered, 1 any spec invalid or not renderable, 2 usage error.\n\n"
         "Flags:\n";
  PrintFlags(out, kRenderFlags);
}

void PrintExplain(const spec::Singleton& s, const render::Rendered& r) {
  std::cout << s.Key() << " (" << Where(s.source) << ")\n";
  std::cout << "  job " << r.job.id << ": " << r.job.type << ", mode "
            << spec::LockModeName(s.spec.lock.mode) << ", count " << r.job.task_groups[0].count
            << " (1 holder + " << s.spec.standby << " standby), stop_on_client_after "
            << base::FormatDuration(s.spec.failover.stop_on_client_after) << "\n";
  for (const auto& t : r.job.task_groups[0].tasks) {
    std::cout << "  task " << t.name << " [" << t.driver << "]"
              << (t.leader ? " leader" : "")
              << (t.lifecycle ? " " + t.lifecycle->hook + (t.lifecycle->sidecar ? " sidecar" : "")
                              : std::string())
              << (t.identity && t.identity->env ? " identity-env" : "") << "\n";
  }
  for (const std::string& line : timing::Explain(s)) std::cout << "  " << line << "\n";
  std::cout << "  ACL policy " << r.policy.name << ": write+read on " << s.spec.lock.path << "\n\n";
}

}  // namespace

int ValidateMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, kValidateFlags, std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    ValidateUsage(std::cout);
    return kExitOk;
  }
  if (args->positional.empty()) {
    std::cerr << "validate: no PATH given (see --help)\n";
    return kExitUsage;
  }
  Loaded l = LoadPaths(args->positional);
  size_t errors = PrintErrors(l);
  if (!args->Has("quiet")) {
    for (const auto& s : l.result.valid) {
      std::cout << "valid    " << s.Key() << "  " << Where(s.source) << "\n";
    }
    for (const auto& inv : l.result.invalid) {
      std::cout << "invalid  " << (inv.key.empty() ? "(unnamed)" : inv.key) << "  "
                << Where(inv.pos) << "\n";
    }
  }
  std::cout << l.result.valid.size() << " valid, " << l.result.invalid.size() << " invalid, "
            << errors << " error" << (errors == 1 ? "" : "s") << "\n";
  return errors == 0 ? kExitOk : kExitInvalid;
}

int RenderMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, kRenderFlags, std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    RenderUsage(std::cout);
    return kExitOk;
  }
  if (args->positional.empty()) {
    std::cerr << "render: no PATH given (see --help)\n";
    return kExitUsage;
  }
  if (args->Get("format", "json") != "json") {
    std::cerr << "render: unknown --format " << args->Get("format") << " (supported: json)\n";
    return kExitUsage;
  }
  Loaded l = LoadPaths(args->positional);
  size_t errors = PrintErrors(l);
  render::RenderOptions opts;
  opts.git_revision = args->Get("revision");
  const bool explain = args->Has("explain");
  const std::string out_dir = args->Get("out");
  std::string json = "[";
  bool first = true;
  for (const auto& s : l.result.valid) {
    auto r = render::Render(s, opts);
    if (!r.ok()) {
      std::cerr << Where(s.source) << ":" << s.source.column << ": " << s.Key() << ": "
                << r.status().message() << "\n";
      ++errors;
      continue;
    }
    if (explain) {
      PrintExplain(s, *r);
      continue;
    }
    const std::string reg = nomad::EncodeRegisterRequest({r->job, false, 0}, {.pretty = true});
    const std::string pol = nomad::EncodeAclPolicy(r->policy, {.pretty = true});
    if (!out_dir.empty()) {
      std::filesystem::path dir = std::filesystem::path(out_dir) / s.metadata.namespace_;
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      std::ofstream(dir / (s.metadata.name + ".job.json")) << reg << "\n";
      std::ofstream(dir / (s.metadata.name + ".policy.json")) << pol << "\n";
      if (ec) {
        std::cerr << "render: cannot create " << dir.string() << ": " << ec.message() << "\n";
        return kExitInvalid;
      }
      continue;
    }
    json += first ? "\n" : ",\n";
    first = false;
    json += "{\"Singleton\": \"" + s.Key() + "\", \"Source\": \"" + Where(s.source) +
            "\",\n \"Register\": " + reg + ",\n \"ACLPolicy\": " + pol + "}";
  }
  if (!explain && out_dir.empty()) std::cout << json << (first ? "]\n" : "\n]\n");
  return errors == 0 ? kExitOk : kExitInvalid;
}

}  // namespace nsg::cmd
