// An error with its HTTP status, thrown inside request handlers and turned into the JSON error body
// {"error": {"code": ..., "message": ..., ...details}} at the server edge (api.cc).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "host/common/error.h"

namespace hashmatch::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string code, const std::string& message,
           nlohmann::json details = nlohmann::json::object())
      : Error(message), status_(status), code_(std::move(code)), details_(std::move(details)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const nlohmann::json& details() const { return details_; }

 private:
  int status_;
  std::string code_;
  nlohmann::json details_;
};

}  // namespace hashmatch::server
