#include "host/common/json_bytes.h"

namespace hashmatch {

nlohmann::json bytes_to_json(std::string_view s) {
  try {
    nlohmann::json j = std::string(s);
    (void)j.dump();  // throws type_error 316 on invalid UTF-8
    return j;
  } catch (const nlohmann::json::type_error&) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(s.size() * 2);
    for (const char c : s) {
      hex.push_back(kDigits[static_cast<uint8_t>(c) >> 4]);
      hex.push_back(kDigits[static_cast<uint8_t>(c) & 15]);
    }
    return nlohmann::json{{"hex", hex}};
  }
}

std::optional<std::string> bytes_from_json(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (!j.is_object() || j.size() != 1 || !j.contains("hex") || !j["hex"].is_string()) {
    return std::nullopt;
  }
  const std::string& hex = j["hex"].get_ref<const std::string&>();
  if (hex.size() % 2) return std::nullopt;
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace hashmatch
