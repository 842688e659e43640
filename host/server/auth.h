// Bearer tokens with scopes, read from a token file.
//
// The file (YAML) lists clients; each has a name (recorded in the audit log), either the token
// itself or its SHA-256 (hex, so the file need not hold secrets), and scopes:
//
//   tokens:
//     - name: moderation-pipeline
//       token: "4f9c...long random string..."
//       scopes: [hash, match]
//     - name: list-admin
//       sha256: "e3b0c442..."          # sha256 of the token, lowercase hex
//       scopes: [admin]
//
// Scopes: `hash` (POST /v1/hash), `match` (POST /v1/match, /v1/match/hashes, GET /v1/lists...),
// `admin` (list changes; implies the other two). Tokens are compared by their SHA-256 digests, so
// lookup time does not depend on how much of a token is right. A missing or unknown token is 401,
// a known token without the scope 403.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace hashmatch::server {

enum class Scope { kHash, kMatch, kAdmin };
std::string_view scope_name(Scope s);

struct Principal {
  std::string name;  // from the token file; "anonymous" without one
  std::set<Scope> scopes;
  bool has(Scope s) const { return scopes.count(s) || scopes.count(Scope::kAdmin); }
};

class TokenStore {
 public:
  // No token file: every local client is "anonymous" with every scope.
  static std::shared_ptr<const TokenStore> open_access();
  // Reads the file. Throws InvalidArgument (naming the entry) or IoError.
  static std::shared_ptr<const TokenStore> load(const std::string& path);

  bool enabled() const { return enabled_; }
  std::size_t size() const { return by_digest_.size(); }

  enum class Result { kOk, kMissing, kUnknown, kMalformed };
  // Looks up an Authorization header value ("Bearer TOKEN"). With auth disabled, always kOk
  // (anonymous, all scopes).
  Result authenticate(std::string_view authorization, Principal* who) const;

 private:
  bool enabled_ = false;
  std::map<std::string, Principal> by_digest_;  // sha256 hex of the token -> principal
};

// Lowercase hex SHA-256 of a token (what `sha256:` entries hold).
std::string token_digest(std::string_view token);

}  // namespace hashmatch::server
