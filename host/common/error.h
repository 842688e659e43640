// Error hierarchy of hashmatch. Libraries throw; the CLI and the server edge turn errors into
// per-item error records, exit codes or HTTP status codes. No exception escapes a worker thread.
#pragma once

#include <stdexcept>
#include <string>

namespace hashmatch {

// Base class of every error hashmatch throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Malformed user input: bad hex, a broken list file, a bad request field.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A media item that cannot be hashed. `reason()` is a short stable token (for metrics and
// summaries: "truncated", "empty", "unsupported", "too_large", "too_many_pixels", "corrupt",
// "io"); what() is the human-readable message.
class MediaError : public Error {
 public:
  MediaError(std::string reason, const std::string& message)
      : Error(message), reason_(std::move(reason)) {}
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

// File-system or OS failure.
class IoError : public Error {
 public:
  using Error::Error;
};

// A CUDA runtime/driver failure, or a GPU backend asked for where none is present.
class CudaError : public Error {
 public:
  using Error::Error;
};

}  // namespace hashmatch
