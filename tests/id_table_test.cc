// IdTable (the processors' dedup table) against a std::map model: inserts
// through every growth step (doubling, then growing by half), lookups of
// held and unheld fingerprints, and sweeps. FingerprintOf against
// MurmurHash3_x64_128 computed elsewhere: checkpoints hold fingerprints, so
// their values must never change.
#include "processors/internal/id_table.h"

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "gtest/gtest.h"

namespace roadpulse {
namespace processors_internal {
namespace {

using Key = std::tuple<uint32_t, uint32_t, uint16_t>;
Key KeyOf(const Fingerprint& fp) { return {fp.w0, fp.w1, fp.w2}; }

// MurmurHash3_x64_128, seed 0, as the reference (smhasher's
// MurmurHash3.cpp) writes it: the tail byte by byte. Returns {h1, h2}.
std::pair<uint64_t, uint64_t> ReferenceMurmur3(const std::string& key) {
  const auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  const auto fmix = [](uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
  };
  const auto byte = [&key](size_t i) { return uint64_t{static_cast<uint8_t>(key[i])}; };
  const uint64_t c1 = 0x87c37b91114253d5ULL;
  const uint64_t c2 = 0x4cf5ad432745937fULL;
  const size_t len = key.size();
  uint64_t h1 = 0;
  uint64_t h2 = 0;
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    uint64_t k1 = 0;
    uint64_t k2 = 0;
    for (size_t b = 0; b < 8; ++b) {
      k1 |= byte(i + b) << (8 * b);
      k2 |= byte(i + 8 + b) << (8 * b);
    }
    h1 ^= rotl(k1 * c1, 31) * c2;
    h1 = (rotl(h1, 27) + h2) * 5 + 0x52dce729;
    h2 ^= rotl(k2 * c2, 33) * c1;
    h2 = (rotl(h2, 31) + h1) * 5 + 0x38495ab5;
  }
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  for (size_t b = 0; i + b < len; ++b) {
    if (b < 8) {
      k1 ^= byte(i + b) << (8 * b);
    } else {
      k2 ^= byte(i + b) << (8 * (b - 8));
    }
  }
  if (len - i > 8) h2 ^= rotl(k2 * c2, 33) * c1;
  if (len - i > 0) h1 ^= rotl(k1 * c1, 31) * c2;
  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

// The fingerprint's 80 bits of {h1, h2}.
Key KeyOfHash(uint64_t h1, uint64_t h2) {
  return {static_cast<uint32_t>(h1), static_cast<uint32_t>(h1 >> 32), static_cast<uint16_t>(h2)};
}

TEST(FingerprintTest, MatchesMurmurHash3FromAnotherImplementation) {
  // h1, h2 from the npm package murmurhash3js-revisited 3.0.0,
  // x64.hash128(Buffer.from(s), 0), printed as 32 hex digits: h1 then h2.
  struct Vector {
    std::string id;
    uint64_t h1;
    uint64_t h2;
  };
  const Vector vectors[] = {
      {"a", 0x85555565f6597889ULL, 0xe6b53a48510e895aULL},
      {"hello", 0xcbd8a7b341bd9b02ULL, 0x5b1e906a48ae1d19ULL},
      {"BZ-A-7", 0xb66034d9c598c03dULL, 0x551756d2899e5e40ULL},
      {"BZ-V-123456", 0x5d9cf7811dbe94eaULL, 0x78a82f2e10a6a54dULL},
      {"0123456789abcdef", 0x4be06d94cf4ad1a7ULL, 0x87c35b5c63a708daULL},
      {"0123456789abcdef0", 0xeb24ae8785a5c075ULL, 0x73fb68b3313128caULL},
      {"roadpulse:2025-01-01:371621", 0xe38243c48db2910cULL, 0xc6ad8fc239201de3ULL},
      {"The quick brown fox jumps over the lazy dog", 0xe34bbc7bbc071b6cULL, 0x7a433ca9c49a9347ULL},
  };
  for (const Vector& v : vectors) {
    EXPECT_EQ(KeyOf(FingerprintOf(v.id)), KeyOfHash(v.h1, v.h2)) << v.id;
    const auto [h1, h2] = ReferenceMurmur3(v.id);
    EXPECT_EQ(h1, v.h1) << v.id;
    EXPECT_EQ(h2, v.h2) << v.id;
  }
  // The empty id hashes to 0, which marks an empty slot: it becomes w2 = 1.
  EXPECT_EQ(KeyOf(FingerprintOf("")), Key(0, 0, 1));
}

// Every length from 0 to 80 (each tail length 0-15 five times over), random
// bytes (high bits and NULs included), at every alignment in a buffer.
TEST(FingerprintTest, MatchesTheReferenceAtEveryLengthAndAlignment) {
  std::mt19937_64 rng(7);
  for (size_t len = 0; len <= 80; ++len) {
    for (int round = 0; round < 20; ++round) {
      std::string id(len, '\0');
      for (char& c : id) c = static_cast<char>(rng());
      if (round == 0) id.assign(len, '\xff');
      const auto [h1, h2] = ReferenceMurmur3(id);
      Key expected = KeyOfHash(h1, h2);
      if (expected == Key(0, 0, 0)) expected = Key(0, 0, 1);
      // At offset `round % 8` in a larger buffer, with other bytes around it.
      std::string buffer(len + 16, static_cast<char>(0xA5));
      buffer.replace(round % 8, len, id);
      EXPECT_EQ(KeyOf(FingerprintOf(std::string_view(buffer).substr(round % 8, len))), expected)
          << "length " << len << ", round " << round;
    }
  }
}

TEST(IdTableTest, MatchesAMapModelThroughGrowthAndSweeps) {
  IdTable<uint16_t> table;
  std::map<Key, uint16_t> model;
  std::mt19937_64 rng(7);
  // Past 256 Ki slots, so that both growth regimes run.
  constexpr int kIds = 300'000;
  for (int i = 0; i < kIds; ++i) {
    const Fingerprint fp = FingerprintOf("id-" + std::to_string(i));
    const uint16_t value = static_cast<uint16_t>(i % 1000);
    bool inserted = false;
    uint16_t* held = table.FindOrInsert(fp, value, &inserted);
    ASSERT_TRUE(inserted) << i;
    ASSERT_EQ(*held, value);
    model[KeyOf(fp)] = value;
    if (i % 7 == 0) {  // a duplicate of an earlier id
      const int j = static_cast<int>(rng() % static_cast<uint64_t>(i + 1));
      const Fingerprint again = FingerprintOf("id-" + std::to_string(j));
      held = table.FindOrInsert(again, 9999, &inserted);
      ASSERT_FALSE(inserted) << j;
      ASSERT_EQ(*held, model[KeyOf(again)]);
    }
  }
  ASSERT_EQ(table.size(), model.size());
  EXPECT_GT(table.capacity(), size_t{1} << 18);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(table.Find(FingerprintOf("other-" + std::to_string(i))), nullptr);
  }
  // Sweep the lower half of the values, then check every entry both ways.
  const size_t erased = table.EraseIf([](uint16_t v) { return v < 500; });
  size_t model_erased = 0;
  for (auto it = model.begin(); it != model.end();) {
    if (it->second < 500) {
      it = model.erase(it);
      ++model_erased;
    } else {
      ++it;
    }
  }
  EXPECT_EQ(erased, model_erased);
  ASSERT_EQ(table.size(), model.size());
  for (int i = 0; i < kIds; ++i) {
    const Fingerprint fp = FingerprintOf("id-" + std::to_string(i));
    const uint16_t* held = table.Find(fp);
    auto it = model.find(KeyOf(fp));
    if (it == model.end()) {
      ASSERT_EQ(held, nullptr) << i;
    } else {
      ASSERT_NE(held, nullptr) << i;
      ASSERT_EQ(*held, it->second);
    }
  }
  size_t visited = 0;
  table.ForEach([&](const Fingerprint& fp, uint16_t v) {
    ++visited;
    auto it = model.find(KeyOf(fp));
    ASSERT_NE(it, model.end());
    EXPECT_EQ(it->second, v);
  });
  EXPECT_EQ(visited, model.size());
}

}  // namespace
}  // namespace processors_internal
}  // namespace roadpulse
