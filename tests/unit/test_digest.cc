#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <random>
#include <thread>

#include "host/common/digest.h"
#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/media/media_file.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

// Published test vectors (RFC 1321, FIPS 180).
TEST(Digest, KnownVectors) {
  const ExactDigests abc = digest_bytes("abc");
  EXPECT_EQ(abc.md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(abc.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(abc.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const ExactDigests empty = digest_bytes("");
  EXPECT_EQ(empty.md5, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(empty.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(empty.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, StreamedEqualsOneShotForAnySplit) {
  std::mt19937 rng(std::random_device{}());
  std::string data(100000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const ExactDigests whole = digest_bytes(data);
  for (int trial = 0; trial < 5; ++trial) {
    MultiDigest m;
    std::size_t pos = 0;
    while (pos < data.size()) {
      const std::size_t n = std::min<std::size_t>(data.size() - pos, rng() % 5000);
      m.update(data.data() + pos, n);
      pos += n;
    }
    const ExactDigests d = m.finish();
    EXPECT_EQ(d.md5, whole.md5);
    EXPECT_EQ(d.sha1, whole.sha1);
    EXPECT_EQ(d.sha256, whole.sha256);
  }
}

TEST(Digest, FinishTwiceThrows) {
  MultiDigest m;
  m.update("x", 1);
  (void)m.finish();
  EXPECT_THROW(m.finish(), Error);
  EXPECT_THROW(m.update("y", 1), Error);
}

// A file larger than the media limit still gets its exact hashes, without being kept in memory.
TEST(MediaFile, LargeFileDigestsStreamedBytesNotKept) {
  test::TempDir dir;
  std::vector<uint8_t> data(3u << 20);
  std::mt19937 rng(7);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  test::write_file(dir / "big.bin", data);
  DecodeLimits limits;
  limits.max_file_bytes = 1u << 20;
  const MediaFile mf = read_media_file(dir / "big.bin", limits);
  EXPECT_TRUE(mf.too_large);
  EXPECT_TRUE(mf.bytes.empty());
  EXPECT_EQ(mf.size, data.size());
  const ExactDigests expect =
      digest_bytes(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  EXPECT_EQ(mf.digests.sha256, expect.sha256);
  EXPECT_EQ(mf.digests.md5, expect.md5);
}

// ... and without being copied up to the limit first: reading a 64 MiB file over a 48 MiB limit
// raises the peak resident memory by far less than the limit (it was ~100 MB: the bytes up to the
// limit and the vector's growth).
TEST(MediaFile, LargeFileIsNotBufferedUpToTheLimit) {
  test::TempDir dir;
  {
    std::vector<uint8_t> data(64u << 20);
    std::mt19937 rng(5);
    for (std::size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<uint8_t>(rng());
    test::write_file(dir / "big.bin", data);
  }
  DecodeLimits limits;
  limits.max_file_bytes = 48u << 20;
  if (!test::reset_peak_rss()) GTEST_SKIP() << "cannot reset the peak resident memory here";
  const long base = test::current_rss_kib();
  const MediaFile mf = read_media_file(dir / "big.bin", limits);
  const long growth = test::peak_rss_kib() - base;
  std::printf("[ memory   ] 64 MiB file over a 48 MiB limit: peak RSS growth %ld KiB\n", growth);
  EXPECT_TRUE(mf.too_large);
  EXPECT_TRUE(mf.bytes.empty());
  EXPECT_LT(growth, 16 * 1024);
}

// A video above max_video_bytes_in_memory is left in its file (the decoder streams it): no bytes
// kept, not "too large", digests over everything; a smaller one, or an image of the same size,
// is kept.
TEST(MediaFile, LargeVideoIsLeftInItsFile) {
  test::TempDir dir;
  std::vector<uint8_t> data(3u << 20);
  std::mt19937 rng(11);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const uint8_t ftyp[12] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'};
  std::copy(std::begin(ftyp), std::end(ftyp), data.begin());
  test::write_file(dir / "v.mp4", data);
  DecodeLimits limits;
  limits.max_video_bytes_in_memory = 2u << 20;
  const MediaFile streamed = read_media_file(dir / "v.mp4", limits);
  EXPECT_EQ(streamed.format, MediaFormat::kMp4);
  EXPECT_TRUE(streamed.bytes.empty());
  EXPECT_FALSE(streamed.too_large);
  EXPECT_EQ(streamed.size, data.size());
  const ExactDigests expect =
      digest_bytes(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  EXPECT_EQ(streamed.digests.sha256, expect.sha256);

  limits.max_video_bytes_in_memory = data.size();  // at the limit: kept
  const MediaFile kept = read_media_file(dir / "v.mp4", limits);
  EXPECT_EQ(kept.bytes, data);
  EXPECT_EQ(kept.digests.sha256, expect.sha256);

  data[4] = 'x';  // no longer a video: an unknown format is kept up to max_file_bytes
  test::write_file(dir / "u.bin", data);
  limits.max_video_bytes_in_memory = 1u << 20;
  EXPECT_EQ(read_media_file(dir / "u.bin", limits).bytes, data);
}

TEST(MediaFile, MissingFileIsIoError) {
  test::TempDir dir;
  EXPECT_THROW(read_media_file(dir / "nope.jpg", DecodeLimits{}), IoError);
  EXPECT_THROW(read_media_file(dir.path(), DecodeLimits{}), IoError);  // a directory
}

std::string io_error_of(const std::filesystem::path& p, const DecodeLimits& limits) {
  try {
    read_media_file(p, limits);
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no error)";
}

// A FIFO given by name is read as a stream (as `hashmatch hash <(command)` gives one), and never
// waited on: with no writer it reads as empty at once (opening it used to wait for a writer, for
// ever if none came), with one it is read to its end. Other special files are refused by kind.
TEST(MediaFile, FifoIsReadAsAStreamAndNeverWaitsForAWriter) {
  test::TempDir dir;
  const auto fifo = dir / "in.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    // No writer: the read runs on a thread of its own so that a regression fails the test
    // instead of hanging it (a writer is then opened to let the read end).
    auto read = std::async(std::launch::async, [&] { return read_media_file(fifo, {}); });
    if (read.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "reading a FIFO with no writer waits for one";
      const int fd = ::open(fifo.c_str(), O_WRONLY);
      if (fd >= 0) ::close(fd);
    }
    const MediaFile mf = read.get();
    EXPECT_EQ(mf.format, MediaFormat::kEmpty);
    EXPECT_EQ(mf.size, 0u);
  }
  {
    // A writer holds the FIFO open (as the shell of `<(command)` does) and writes 3 MiB in pieces.
    const int keep = ::open(fifo.c_str(), O_RDWR);  // never blocks on Linux
    ASSERT_GE(keep, 0);
    std::vector<uint8_t> data(3u << 20);
    std::mt19937 rng(3);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    std::thread writer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const int fd = ::open(fifo.c_str(), O_WRONLY);
      ::close(keep);  // the reader now waits on this writer alone
      std::size_t off = 0;
      while (fd >= 0 && off < data.size()) {
        const ssize_t n =
            ::write(fd, data.data() + off, std::min<std::size_t>(65536, data.size() - off));
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      if (fd >= 0) ::close(fd);
    });
    DecodeLimits limits;
    limits.max_file_bytes = 1u << 20;  // past the limit: digests over all of it, bytes not kept
    const MediaFile mf = read_media_file(fifo, limits);
    writer.join();
    EXPECT_EQ(mf.size, data.size());
    EXPECT_TRUE(mf.too_large);
    EXPECT_EQ(
        mf.digests.sha256,
        digest_bytes(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()))
            .sha256);
  }
  EXPECT_NE(io_error_of(dir.path(), {}).find("not a regular file (a directory)"),
            std::string::npos);
  EXPECT_NE(io_error_of("/dev/null", {}).find("not a regular file (a character device)"),
            std::string::npos);
}

// A regular file that holds far more than its size says (procfs files say 0) is read up to the
// limit past its size, not followed for ever (`hashmatch hash /proc/self/pagemap` read until it was
// killed).
TEST(MediaFile, FileHoldingMoreThanItsSizeIsNotFollowedForEver) {
  const std::filesystem::path endless = "/proc/self/pagemap";
  struct stat st {};
  if (::stat(endless.c_str(), &st) != 0 || st.st_size != 0) GTEST_SKIP() << "no " << endless;
  DecodeLimits limits;
  limits.max_file_bytes = 1u << 20;
  EXPECT_NE(io_error_of(endless, limits).find("grows while it is read"), std::string::npos);
}

// Walking a directory reports its broken symbolic links (as `scan` does) and passes over FIFOs.
TEST(MediaFile, WalkReportsBrokenLinksAndPassesOverFifos) {
  test::TempDir dir;
  test::write_file(dir / "a.bin", {1, 2, 3});
  std::filesystem::create_symlink(dir / "gone", dir / "b.link");
  ASSERT_EQ(::mkfifo((dir / "c.fifo").c_str(), 0600), 0);
  std::vector<std::pair<std::string, std::string>> errors;
  const auto files = expand_paths({dir.path().string()}, &errors);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], (dir / "a.bin").string());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, (dir / "b.link").string());
  EXPECT_EQ(errors[0].second, "broken symbolic link");
}

}  // namespace
}  // namespace hashmatch
