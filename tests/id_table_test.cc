// IdTable (the processors' dedup table) against a std::map model: inserts
// through every growth step (doubling, then growing by half), lookups of
// held and unheld fingerprints, and sweeps.
#include "processors/internal/id_table.h"

#include <map>
#include <random>
#include <string>
#include <tuple>

#include "gtest/gtest.h"

namespace roadpulse {
namespace processors_internal {
namespace {

using Key = std::tuple<uint32_t, uint32_t, uint16_t>;
Key KeyOf(const Fingerprint& fp) { return {fp.w0, fp.w1, fp.w2}; }

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
