#include "controller/cmd/cli.h"

#include <iomanip>

namespace nsg::cmd {

std::optional<Args> ParseArgs(const std::vector<std::string>& argv,
                              const std::vector<FlagSpec>& specs, std::ostream& err) {
  Args out;
  auto find = [&](const std::string& name) -> const FlagSpec* {
    for (const auto& s : specs) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      out.after_dashdash.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      out.flags["help"].push_back("");
      continue;
    }
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string name = a.substr(2), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
      const FlagSpec* spec = find(name);
      if (spec == nullptr) {
        err << "unknown flag --" << name << " (see --help)\n";
        return std::nullopt;
      }
      if (spec->takes_value && !has_value) {
        if (i + 1 >= argv.size()) {
          err << "flag --" << name << " needs a value (" << spec->value_name << ")\n";
          return std::nullopt;
        }
        value = argv[++i];
      } else if (!spec->takes_value && has_value) {
        err << "flag --" << name << " takes no value\n";
        return std::nullopt;
      }
      out.flags[name].push_back(value);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      err << "unknown flag " << a << " (flags are --long; see --help)\n";
      return std::nullopt;
    }
    out.positional.push_back(a);
  }
  return out;
}

void PrintFlags(std::ostream& out, const std::vector<FlagSpec>& specs) {
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.takes_value ? " " + s.value_name : "");
    out << std::left << std::setw(28) << left << " " << s.help << "\n";
  }
  out << std::left << std::setw(28) << "  -h, --help" << " " << "show this help" << "\n";
}

}  // namespace nsg::cmd
