// The result stream of a scan: JSON lines written to a file (or standard output) through one
// buffer, with the byte offset tracked so a checkpoint can name exactly how much of the file is
// durable and valid.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hashmatch::scan {

class OutputFile {
 public:
  // "" or "-": standard output (cannot be truncated or resumed). A path that is not a regular file
  // (a FIFO, /dev/stdout, a process substitution) is written as it is, and cannot be resumed
  // either (keep_bytes must be 0: InvalidArgument otherwise). Otherwise the file is created, or
  // truncated to `keep_bytes` (0: emptied). Throws IoError; throws Error when the file is
  // shorter than keep_bytes (it was changed since the checkpoint was written).
  OutputFile(const std::string& path, uint64_t keep_bytes);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  bool is_stdout() const { return stdout_; }
  const std::string& path() const { return path_; }

  // Buffers `data` (written when the buffer fills, on flush() and sync()).
  void write(std::string_view data);
  void flush();  // hands the buffer to the kernel (write(2))
  void sync();   // flush() and fdatasync (a no-op for pipes and terminals)
  uint64_t offset() const { return offset_; }  // bytes in the file, counting the buffer
  // Truncates the file to `bytes` (<= offset; file outputs only).
  void truncate(uint64_t bytes);

  // Reads the file from `from` to its end (file outputs only; for resuming).
  static std::string read_from(const std::string& path, uint64_t from);

 private:
  std::string path_;
  int fd_ = -1;
  bool stdout_ = false;
  bool stream_ = false;  // not a regular file: never truncated
  uint64_t offset_ = 0;
  std::string buf_;
};

}  // namespace hashmatch::scan
