// IdTable: the compact dedup state of a PartitionProcessor. Maps the 80-bit
// fingerprint of an event id to a small value, in a bucketized cuckoo hash
// table (2 candidate buckets of 4 slots each) kept between 73% and 92% full,
// so an id costs about (10 + sizeof(Value)) / 0.82 bytes: ~15 bytes for a
// violation (value: its day, 2 bytes), ~44 for an accident (value: what it
// contributed, 24 bytes).
//
// Why fingerprints and not the id strings: the table holds every id inside the
// retention horizon (millions), and a string costs 32+ bytes plus a heap block.
// Collision odds: with n ids held, a new id is mistaken for a held one (and
// not counted) with probability n / 2^80; for n = 10^7 that is 8e-18 per
// event: one lost count in ~10^17 events.
//
// Not thread-safe. Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_ID_TABLE_H_
#define ROADPULSE_PROCESSORS_INTERNAL_ID_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace roadpulse {
namespace processors_internal {

// 80 bits of a 128-bit MurmurHash3 (x64) of the id. Never all zero (that
// marks an empty slot).
struct Fingerprint {
  uint32_t w0 = 0;
  uint32_t w1 = 0;
  uint16_t w2 = 0;
  bool empty() const { return (w0 | w1 | w2) == 0; }
  friend bool operator==(const Fingerprint& a, const Fingerprint& b) {
    return a.w0 == b.w0 && a.w1 == b.w1 && a.w2 == b.w2;
  }
};

Fingerprint FingerprintOf(std::string_view id);

template <typename Value>
class IdTable {
 public:
  IdTable() { Resize(kMinBuckets); }

  // The value held for `fp`, or nullptr. The pointer is valid until the next
  // Insert or EraseIf.
  Value* Find(const Fingerprint& fp) {
    const auto [b1, b2] = Buckets(fp);
    if (Slot* s = FindIn(b1, fp); s != nullptr) return &s->value;
    if (Slot* s = FindIn(b2, fp); s != nullptr) return &s->value;
    return nullptr;
  }

  // Inserts `fp` (REQUIRES: not present).
  void Insert(const Fingerprint& fp, const Value& value) {
    if (size_ + 1 > MaxSize()) Resize(buckets_.size() + buckets_.size() / 4 + 1);
    Slot slot{fp.w0, fp.w1, fp.w2, value};
    while (!Place(slot)) Resize(buckets_.size() + buckets_.size() / 4 + 1);
    ++size_;
  }

  // Removes every entry for which pred(value) is true; returns how many.
  template <typename Pred>
  size_t EraseIf(Pred pred) {
    size_t erased = 0;
    for (Bucket& b : buckets_) {
      for (Slot& s : b.slots) {
        if (!s.empty() && pred(s.value)) {
          s = Slot{};
          ++erased;
        }
      }
    }
    size_ -= erased;
    return erased;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return buckets_.size() * kSlots; }
  size_t memory_bytes() const { return buckets_.capacity() * sizeof(Bucket); }

 private:
  static constexpr int kSlots = 4;
  static constexpr size_t kMinBuckets = 64;
  static constexpr int kMaxKicks = 500;

  // 12 bytes with a 2-byte value, 36 with a 24-byte one.
  struct Slot {
    uint32_t w0 = 0;
    uint32_t w1 = 0;
    uint16_t w2 = 0;
    Value value{};
    bool empty() const { return (w0 | w1 | w2) == 0; }
    bool Is(const Fingerprint& fp) const { return w0 == fp.w0 && w1 == fp.w1 && w2 == fp.w2; }
    Fingerprint fp() const { return Fingerprint{w0, w1, w2}; }
  };
  struct Bucket {
    Slot slots[kSlots];
  };

  // Grow before 92% full: 2-choice 4-way cuckoo tables fill to ~97%.
  size_t MaxSize() const { return capacity() / 100 * 92; }

  static uint64_t Mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
  // Maps a uniform 64-bit value to [0, n) without a division.
  static size_t Range(uint64_t x, size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(x) * n) >> 64);
  }
  std::pair<size_t, size_t> Buckets(const Fingerprint& fp) const {
    const uint64_t lo = (static_cast<uint64_t>(fp.w1) << 32) | fp.w0;
    const size_t n = buckets_.size();
    return {Range(lo, n), Range(Mix(lo ^ (static_cast<uint64_t>(fp.w2) << 17)), n)};
  }

  Slot* FindIn(size_t bucket, const Fingerprint& fp) {
    for (Slot& s : buckets_[bucket].slots) {
      if (s.Is(fp)) return &s;
    }
    return nullptr;
  }

  bool PutIn(size_t bucket, const Slot& slot) {
    for (Slot& s : buckets_[bucket].slots) {
      if (s.empty()) {
        s = slot;
        return true;
      }
    }
    return false;
  }

  // Places `slot`, kicking others along a random walk. On failure `slot`
  // holds the entry left homeless and false is returned.
  bool Place(Slot& slot) {
    auto [b1, b2] = Buckets(slot.fp());
    if (PutIn(b1, slot) || PutIn(b2, slot)) return true;
    size_t bucket = (rng_ & 1) ? b1 : b2;
    for (int kick = 0; kick < kMaxKicks; ++kick) {
      rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
      Slot& victim = buckets_[bucket].slots[(rng_ >> 33) % kSlots];
      std::swap(victim, slot);
      const auto [v1, v2] = Buckets(slot.fp());
      bucket = bucket == v1 ? v2 : v1;
      if (PutIn(bucket, slot)) return true;
    }
    return false;
  }

  void Resize(size_t n_buckets) {
    std::vector<Slot> entries;
    entries.reserve(size_);
    for (const Bucket& b : buckets_) {
      for (const Slot& s : b.slots) {
        if (!s.empty()) entries.push_back(s);
      }
    }
    while (true) {
      std::vector<Bucket>().swap(buckets_);  // free before allocating the new table
      buckets_.assign(n_buckets, Bucket{});
      bool placed_all = true;
      for (const Slot& s : entries) {
        Slot moving = s;
        if (!Place(moving)) {  // practically impossible at <= 92% / 1.25 load
          placed_all = false;
          break;
        }
      }
      if (placed_all) return;
      n_buckets += n_buckets / 2 + 1;
    }
  }

  std::vector<Bucket> buckets_;
  size_t size_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_ID_TABLE_H_
