#include <gtest/gtest.h>

#include <random>

#include "host/common/error.h"
#include "host/common/hash256.h"

namespace hashmatch {
namespace {

Hash256 random_hash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& w : h.w) w = rng();
  return h;
}

TEST(Hash256, HexRoundTripIsLowercaseAndStable) {
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 1000; ++i) {
    const Hash256 h = random_hash(rng);
    const std::string hex = h.to_hex();
    ASSERT_EQ(hex.size(), 64u);
    for (char c : hex) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << hex;
    EXPECT_EQ(Hash256::from_hex(hex), h);
  }
}

TEST(Hash256, BitKHasValueTwoToTheK) {
  // Read as a big-endian 256-bit number, bit k has value 2^k: bit 0 is the last hex digit's
  // lowest bit, bit 255 the first digit's highest.
  Hash256 h;
  h.set_bit(0);
  EXPECT_EQ(h.to_hex(), std::string(63, '0') + "1");
  h.clear();
  h.set_bit(255);
  EXPECT_EQ(h.to_hex(), "8" + std::string(63, '0'));
  h.clear();
  h.set_bit(16 * 3 + 4);  // reference word w16[3], bit 4
  const std::string hex = h.to_hex();
  // w16[3] is printed as characters [48, 52) counting from the left (w16[15] first).
  EXPECT_EQ(hex.substr(48, 4), "0010");
}

TEST(Hash256, ParsesUppercaseAndRejectsBadInput) {
  const std::string good = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(Hash256::from_hex(upper).to_hex(), good);

  EXPECT_THROW(Hash256::from_hex(good.substr(1)), InvalidArgument);          // 63 chars
  EXPECT_THROW(Hash256::from_hex(good + "0"), InvalidArgument);              // 65 chars
  EXPECT_THROW(Hash256::from_hex(""), InvalidArgument);
  EXPECT_THROW(Hash256::from_hex(" " + good.substr(1)), InvalidArgument);    // blank
  std::string bad = good;
  bad[10] = 'g';
  try {
    Hash256::from_hex(bad);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("position 11"), std::string::npos) << e.what();
  }
  Hash256 out;
  std::string why;
  EXPECT_FALSE(Hash256::try_from_hex("xyz", &out, &why));
  EXPECT_NE(why.find("64 hex characters"), std::string::npos) << why;
}

TEST(Hash256, HammingDistanceCountsDifferingBits) {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 200; ++trial) {
    const Hash256 a = random_hash(rng);
    Hash256 b = a;
    std::uniform_int_distribution<int> nbits(0, 256);
    const int flips = nbits(rng);
    std::vector<int> idx(256);
    for (int i = 0; i < 256; ++i) idx[i] = i;
    std::shuffle(idx.begin(), idx.end(), rng);
    for (int i = 0; i < flips; ++i) b.w[idx[i] >> 6] ^= uint64_t{1} << (idx[i] & 63);
    EXPECT_EQ(hamming_distance(a, b), flips);
    EXPECT_EQ(hamming_distance(b, a), flips);
  }
  EXPECT_EQ(hamming_distance(Hash256{}, Hash256{}), 0);
  Hash256 ones;
  ones.w = {~0ull, ~0ull, ~0ull, ~0ull};
  EXPECT_EQ(hamming_distance(Hash256{}, ones), 256);
  EXPECT_EQ(ones.popcount(), 256);
}

TEST(Hash256, MatchRuleIsInclusive) {
  EXPECT_TRUE(pdq_match(31, 31));
  EXPECT_TRUE(pdq_match(0, 31));
  EXPECT_FALSE(pdq_match(32, 31));
  EXPECT_EQ(kDefaultPdqThreshold, 31);
}

TEST(Hash256, DihedralNames) {
  const char* expected[] = {"original", "rot90", "rot180", "rot270",
                            "flipx", "flipy", "flipplus1", "flipminus1"};
  for (int i = 0; i < kNumDihedral; ++i) {
    EXPECT_EQ(dihedral_name(static_cast<Dihedral>(i)), expected[i]);
  }
}

}  // namespace
}  // namespace hashmatch
