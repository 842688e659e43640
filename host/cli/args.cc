#include "host/cli/args.h"

#include <cerrno>
#include <cstdlib>

#include "host/common/error.h"

namespace hashmatch::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& value_opts,
           const std::set<std::string>& flag_opts) {
  bool only_positional = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positional || a.size() < 3 || a.rfind("--", 0) != 0) {
      if (a == "--") {
        only_positional = true;
        continue;
      }
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (flag_opts.count(name)) {
      if (has_value) throw InvalidArgument("option --" + name + " takes no value");
      flags_.insert(name);
    } else if (value_opts.count(name)) {
      if (!has_value) {
        if (i + 1 >= argv.size()) throw InvalidArgument("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      throw InvalidArgument("unknown option --" + name);
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::get_int(const std::string& name, long long fallback, long long min,
                        long long max) const {
  const auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE || x < min || x > max) {
    throw InvalidArgument("option --" + name + " must be a whole number in [" +
                          std::to_string(min) + ", " + std::to_string(max) + "], got '" + *v + "'");
  }
  return x;
}

}  // namespace hashmatch::cli
