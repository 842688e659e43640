// A small command-line parser for the subcommands: long options (--name VALUE, --name=VALUE,
// boolean --flag), repeated options, and positional arguments. Unknown options are errors.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hashmatch::cli {

class Args {
 public:
  // `value_opts`: options that take a value; `flag_opts`: boolean options. Names without "--".
  Args(const std::vector<std::string>& argv, const std::set<std::string>& value_opts,
       const std::set<std::string>& flag_opts);

  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> get_all(const std::string& name) const;
  long long get_int(const std::string& name, long long fallback, long long min, long long max) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace hashmatch::cli
