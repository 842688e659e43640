// host/common/file_io.h: whole writes, and files replaced whole or not at all.
#include "host/common/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "host/common/error.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(FileIo, WriteAllWritesEverything) {
  test::TempDir d;
  const fs::path p = d / "out.bin";
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  std::string big(3 << 20, 'x');  // several write() calls' worth on a pipe, one or more on a file
  for (std::size_t i = 0; i < big.size(); i += 4093) big[i] = char('a' + i % 26);
  write_all(fd, big, "out");
  ::close(fd);
  EXPECT_EQ(slurp(p), big);
}

TEST(FileIo, WriteAllNamesTheFileOnError) {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // not open for writing: EBADF
  ASSERT_GE(fd, 0);
  try {
    write_all(fd, "data", "report 'r.json'");
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write report 'r.json': "), std::string::npos) << e.what();
  }
  ::close(fd);
}

TEST(FileIo, ReplaceFileSwapsInTheNewContent) {
  test::TempDir d;
  const fs::path p = d / "report.json";
  { std::ofstream(p) << "old"; }
  replace_file(p.string(), ".tmp", "", [](int fd, const std::string& tmp) {
    EXPECT_TRUE(fs::exists(tmp));
    write_all(fd, "new content", tmp);
  });
  EXPECT_EQ(slurp(p), "new content");
  EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
}

TEST(FileIo, ReplaceFileLeavesTheOldFileWhenWritingFails) {
  test::TempDir d;
  const fs::path p = d / "checkpoint";
  { std::ofstream(p) << "old"; }
  EXPECT_THROW(replace_file(p.string(), ".tmp", "checkpoint ",
                            [](int fd, const std::string&) {
                              write_all(fd, "half", "x");
                              throw std::runtime_error("disk full");
                            }),
               std::runtime_error);
  EXPECT_EQ(slurp(p), "old");
  EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
}

TEST(FileIo, ReplaceFileInAMissingDirectoryIsAnIoError) {
  test::TempDir d;
  const fs::path p = d / "no-such-dir" / "checkpoint";
  try {
    replace_file(p.string(), ".tmp", "checkpoint ", [](int, const std::string&) {});
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create checkpoint '" + p.string() + ".tmp'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
}

}  // namespace
}  // namespace hashmatch
