#include "host/server/auth.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdio>

#include "host/common/digest.h"
#include "host/common/error.h"

namespace hashmatch::server {

std::string_view scope_name(Scope s) {
  switch (s) {
    case Scope::kHash:
      return "hash";
    case Scope::kMatch:
      return "match";
    case Scope::kAdmin:
      return "admin";
  }
  return "?";
}

std::string token_digest(std::string_view token) { return digest_bytes(token).sha256; }

std::shared_ptr<const TokenStore> TokenStore::open_access() {
  auto s = std::make_shared<TokenStore>();
  s->enabled_ = false;
  return s;
}

std::shared_ptr<const TokenStore> TokenStore::load(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw IoError("cannot read the token file " + path);
  } catch (const YAML::Exception& e) {
    throw InvalidArgument(path + ": " + e.what());
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH)) {
    std::fprintf(stderr, "hashmatch serve: warning: token file %s is readable by every user\n",
                 path.c_str());
  }
  auto store = std::make_shared<TokenStore>();
  store->enabled_ = true;
  const YAML::Node list = root.IsMap() ? root["tokens"] : YAML::Node();
  if (!list || !list.IsSequence()) {
    throw InvalidArgument(path + ": expected a 'tokens:' list");
  }
  std::size_t i = 0;
  std::set<std::string> names;
  for (const auto& entry : list) {
    const std::string where = path + ": tokens[" + std::to_string(i++) + "]";
    try {
      if (!entry.IsMap()) throw InvalidArgument("expected a mapping");
      Principal p;
      if (!entry["name"]) throw InvalidArgument("missing 'name'");
      p.name = entry["name"].as<std::string>();
      if (p.name.empty()) throw InvalidArgument("empty 'name'");
      if (!names.insert(p.name).second) throw InvalidArgument("duplicate name '" + p.name + "'");
      std::string digest;
      if (entry["token"] && entry["sha256"]) {
        throw InvalidArgument("give either 'token' or 'sha256', not both");
      } else if (entry["token"]) {
        const std::string tok = entry["token"].as<std::string>();
        if (tok.size() < 16) throw InvalidArgument("token shorter than 16 characters");
        digest = token_digest(tok);
      } else if (entry["sha256"]) {
        digest = entry["sha256"].as<std::string>();
        for (char& c : digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (digest.size() != 64 ||
            digest.find_first_not_of("0123456789abcdef") != std::string::npos) {
          throw InvalidArgument("'sha256' must be 64 hex characters");
        }
      } else {
        throw InvalidArgument("missing 'token' or 'sha256'");
      }
      const YAML::Node scopes = entry["scopes"];
      if (!scopes || !scopes.IsSequence() || scopes.size() == 0) {
        throw InvalidArgument("'scopes' must be a non-empty list of hash, match, admin");
      }
      for (const auto& sc : scopes) {
        const std::string s = sc.as<std::string>();
        if (s == "hash") {
          p.scopes.insert(Scope::kHash);
        } else if (s == "match") {
          p.scopes.insert(Scope::kMatch);
        } else if (s == "admin") {
          p.scopes.insert(Scope::kAdmin);
        } else {
          throw InvalidArgument("unknown scope '" + s + "' (hash, match, admin)");
        }
      }
      if (!store->by_digest_.emplace(digest, std::move(p)).second) {
        throw InvalidArgument("the same token appears twice");
      }
    } catch (const YAML::Exception& e) {
      throw InvalidArgument(where + ": " + e.what());
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(where + ": " + e.what());
    }
  }
  return store;
}

TokenStore::Result TokenStore::authenticate(std::string_view authorization, Principal* who) const {
  if (!enabled_) {
    who->name = "anonymous";
    who->scopes = {Scope::kHash, Scope::kMatch, Scope::kAdmin};
    return Result::kOk;
  }
  if (authorization.empty()) return Result::kMissing;
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size()) return Result::kMalformed;
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBearer[i]) {
      return Result::kMalformed;
    }
  }
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return Result::kMalformed;
  auto it = by_digest_.find(token_digest(token));
  if (it == by_digest_.end()) return Result::kUnknown;
  *who = it->second;
  return Result::kOk;
}

}  // namespace hashmatch::server
