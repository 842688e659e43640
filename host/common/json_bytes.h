// Arbitrary bytes (file paths, list ids and labels) as a JSON value that gives them back byte for
// byte: JSON strings must be UTF-8, and these need not be.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace hashmatch {

// The string itself when it is UTF-8, else {"hex": "<lowercase hex of the bytes>"}.
nlohmann::json bytes_to_json(std::string_view s);

// The inverse of bytes_to_json; std::nullopt for anything else (not a string, not an object of
// exactly {"hex": <an even number of hex digits>}).
std::optional<std::string> bytes_from_json(const nlohmann::json& j);

}  // namespace hashmatch
