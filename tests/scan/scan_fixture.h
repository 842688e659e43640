// A generated backlog for the scan tests: procedural images in several formats, transformed copies
// of some, broken and non-media files, with the hashes of the originals known.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "host/common/digest.h"
#include "host/common/hash256.h"
#include "host/image/image.h"
#include "host/pdq/pdq.h"
#include "tests/testutil/encoders.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::test {

struct Backlog {
  std::filesystem::path root;
  std::vector<std::string> files;                  // every file written, sorted
  std::map<std::string, Hash256> pdq_of;           // file -> PDQ of its pixels (lossless files)
  std::vector<std::string> broken;                 // files that must fail to hash
  std::string text_file;                           // not media
  std::string text_md5;
  // Planted: PDQ of these originals are put into a list; their JPEG copies must match too.
  std::vector<std::string> planted;                // originals whose PDQ is listed
  std::vector<std::string> planted_copies;         // JPEG re-encodings of the planted originals
};

inline Backlog make_backlog(const std::filesystem::path& root, int images, int planted) {
  namespace fs = std::filesystem;
  Backlog b;
  b.root = root;
  pdq::PdqHasher hasher;
  for (int i = 0; i < images; ++i) {
    const int w = 48 + (i * 37) % 80, h = 40 + (i * 53) % 70;
    const Image img = procedural_image(w, h, 1000 + i);
    const fs::path dir = root / ("d" + std::to_string(i % 4));
    fs::create_directories(dir);
    const std::string p = (dir / ("img" + std::to_string(100 + i) + ".png")).string();
    write_file(p, encode_png(img));
    b.files.push_back(p);
    b.pdq_of[p] = hasher.hash(img).hash;
    if (i < planted) {
      b.planted.push_back(p);
      const std::string c = (root / "copies" / ("copy" + std::to_string(i) + ".jpg")).string();
      fs::create_directories(root / "copies");
      write_file(c, encode_jpeg(img, 85));
      b.files.push_back(c);
      b.planted_copies.push_back(c);
    }
  }
  // Broken files: a truncated PNG, an empty file, JPEG magic then garbage, a hostile header.
  const auto png = encode_png(procedural_image(64, 64, 5));
  fs::create_directories(root / "bad");
  auto bad = [&](const std::string& name, std::vector<uint8_t> data) {
    const std::string p = (root / "bad" / name).string();
    write_file(p, data);
    b.files.push_back(p);
    b.broken.push_back(p);
  };
  bad("truncated.png", {png.begin(), png.begin() + png.size() / 3});
  bad("empty.jpg", {});
  bad("garbage.jpg", {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // A JPEG whose frame header claims 60000 x 60000 pixels (a decompression bomb): refused from the
  // header.
  std::vector<uint8_t> bomb = encode_jpeg(procedural_image(16, 16, 6));
  for (std::size_t i = 2; i + 8 < bomb.size(); ++i) {
    if (bomb[i] == 0xFF && bomb[i + 1] == 0xC0) {
      bomb[i + 5] = bomb[i + 7] = 0xEA;
      bomb[i + 6] = bomb[i + 8] = 0x60;
      break;
    }
  }
  bad("bomb.jpg", bomb);
  b.text_file = (root / "notes.txt").string();
  write_file(b.text_file, {'h', 'e', 'l', 'l', 'o', '\n'});
  b.text_md5 = digest_bytes("hello\n").md5;
  b.files.push_back(b.text_file);
  std::sort(b.files.begin(), b.files.end());
  return b;
}

}  // namespace hashmatch::test
