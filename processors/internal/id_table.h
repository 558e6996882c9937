// IdTable: the compact dedup state of a PartitionProcessor. Maps the 80-bit
// fingerprint of an event id to a small value, in a bucketized cuckoo hash
// table (2 candidate buckets of 4 slots each). Once past 256 Ki slots it is
// kept between 59% and 88% full, so an id costs its slot's size / 0.88 to
// / 0.59: 14-20 bytes for a violation (a 12-byte slot; value: its day, 2
// bytes), 41-61 for an accident (36 bytes; value: what it contributed, 24
// bytes). Smaller tables double when full. The slots live in ZeroedPages (huge
// pages for big tables).
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
#include <type_traits>
#include <utility>

#include "processors/internal/load.h"
#include "processors/internal/prefetch.h"
#include "processors/internal/zeroed_pages.h"

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

namespace fingerprint_internal {

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t Fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// MurmurHash3_x64_128 (Austin Appleby, public domain), seed 0. Stable across
// processes and builds, so fingerprints can be checkpointed: the values are
// pinned by FingerprintTest against another implementation. The tail (the
// last len % 16 bytes) is read as two words rather than byte by byte through
// the reference's switch; the words are the same.
inline void Murmur3x64_128(const char* data, size_t len, uint64_t out[2]) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "MurmurHash3 reads its blocks in little-endian order");
  using processors_internal::LoadPartial128;
  const size_t nblocks = len / 16;
  uint64_t h1 = 0;
  uint64_t h2 = 0;
  constexpr uint64_t c1 = 0x87c37b91114253d5ULL;
  constexpr uint64_t c2 = 0x4cf5ad432745937fULL;
  for (size_t i = 0; i < nblocks; ++i) {
    uint64_t k1 = Load64(data + i * 16);
    uint64_t k2 = Load64(data + i * 16 + 8);
    k1 *= c1;
    k1 = Rotl(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = Rotl(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = Rotl(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = Rotl(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  const size_t rest = len & 15;
  uint64_t k1;
  uint64_t k2;
  LoadPartial128(data + nblocks * 16, rest, &k1, &k2);
  if (rest > 8) {
    k2 *= c2;
    k2 = Rotl(k2, 33);
    k2 *= c1;
    h2 ^= k2;
  }
  if (rest > 0) {
    k1 *= c1;
    k1 = Rotl(k1, 31);
    k1 *= c2;
    h1 ^= k1;
  }
  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = Fmix(h1);
  h2 = Fmix(h2);
  h1 += h2;
  h2 += h1;
  out[0] = h1;
  out[1] = h2;
}

}  // namespace fingerprint_internal

// Inline (it was in id_table.cc until session 10): returned from a call, the
// Fingerprint went back in two registers, and g++ 12 built the second from a
// 2-byte store and a 4-byte reload of the stack. A wider load than the
// store cannot be forwarded, so every call stalled on it; perf put ~27% of
// FingerprintOf's samples on that reload.
inline Fingerprint FingerprintOf(std::string_view id) {
  uint64_t h[2];
  fingerprint_internal::Murmur3x64_128(id.data(), id.size(), h);
  Fingerprint fp;
  fp.w0 = static_cast<uint32_t>(h[0]);
  fp.w1 = static_cast<uint32_t>(h[0] >> 32);
  fp.w2 = static_cast<uint16_t>(h[1]);
  if (fp.empty()) fp.w2 = 1;  // all-zero marks an empty slot
  return fp;
}

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

  // Starts loading the two candidate buckets of `fp` into the cache, so that
  // a Find or FindOrInsert a little later does not wait for memory.
  void Prefetch(const Fingerprint& fp) const {
    const auto [b1, b2] = Buckets(fp);
    PrefetchBucket(b1, PrefetchIntent::kRead);
    PrefetchBucket(b2, PrefetchIntent::kRead);
  }

  // Inserts `fp` (REQUIRES: not present).
  void Insert(const Fingerprint& fp, const Value& value) {
    bool inserted = false;
    FindOrInsert(fp, value, &inserted);
  }

  // The value held for `fp`; if there is none, `value` is inserted first and
  // *inserted set to true. The pointer is valid until the next Insert,
  // FindOrInsert or EraseIf. One pass over the two candidate buckets does
  // both the lookup and, usually, the insertion.
  Value* FindOrInsert(const Fingerprint& fp, const Value& value, bool* inserted) {
    const auto [b1, b2] = Buckets(fp);
    Slot* free_slot = nullptr;
    for (size_t b : {b1, b2}) {
      for (Slot& s : buckets()[b].slots) {
        if (s.Is(fp)) {
          *inserted = false;
          return &s.value;
        }
        if (free_slot == nullptr && s.empty()) free_slot = &s;
      }
    }
    *inserted = true;
    if (free_slot != nullptr && size_ + 1 <= MaxSize()) {
      *free_slot = Slot{fp.w0, fp.w1, fp.w2, value};
      ++size_;
      return &free_slot->value;
    }
    if (size_ + 1 > MaxSize()) Grow();
    Slot slot{fp.w0, fp.w1, fp.w2, value};
    while (!Place(slot)) Grow();
    ++size_;
    return Find(fp);
  }

  // Removes every entry for which pred(value) is true; returns how many.
  // pred is also called on the zero value of empty slots (and its verdict
  // there ignored), so it must be cheap and have no side effects.
  template <typename Pred>
  size_t EraseIf(Pred pred) {
    size_t erased = 0;
    for (size_t i = 0; i < n_buckets_; ++i) {
      // The bucket's verdicts as a bit mask, then one branch: a branch per
      // slot on emptiness would go either way at random (a fifth of the
      // slots are empty), and an erasure is rare (a sweep forgets ~1/32 of
      // the ids), so the mask is almost always zero.
      Slot* slots = buckets()[i].slots;
      if (i + kSweepAhead < n_buckets_) PrefetchBucket(i + kSweepAhead, PrefetchIntent::kRead);
      unsigned mask = 0;
      // Unrolled: the shifts become constants (a shift by a register costs
      // three micro-ops here, and the sweep was bound by them, not memory).
#pragma GCC unroll 4
      for (int j = 0; j < kSlots; ++j) {
        mask |= (static_cast<unsigned>(!slots[j].empty()) &
                 static_cast<unsigned>(static_cast<bool>(pred(slots[j].value))))
                << j;
      }
      if (mask == 0) continue;
      for (int j = 0; j < kSlots; ++j) {
        if ((mask >> j) & 1) {
          slots[j] = Slot{};
          ++erased;
        }
      }
    }
    size_ -= erased;
    return erased;
  }

  // Calls fn(fingerprint, value) for every entry, in table order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (size_t i = 0; i < n_buckets_; ++i) {
      for (const Slot& s : buckets()[i].slots) {
        if (!s.empty()) fn(s.fp(), s.value);
      }
    }
  }

  // Makes room for `n` entries in all (before restoring a saved table).
  void Reserve(size_t n) {
    size_t buckets = n_buckets_;
    while (MaxSizeOf(buckets) < n) buckets *= 2;
    if (buckets != n_buckets_) Resize(buckets);
  }

  size_t size() const { return size_; }
  size_t capacity() const { return n_buckets_ * kSlots; }
  size_t memory_bytes() const { return memory_.size(); }

 private:
  static constexpr int kSlots = 4;
  // How many buckets ahead EraseIf's scan asks for (3 KiB with 2-byte values):
  // left to the hardware, the sweep waited on memory for ~40% of its time.
  static constexpr size_t kSweepAhead = 64;
  static constexpr size_t kMinBuckets = 64;
  static constexpr int kMaxKicks = 500;
  // 64 Ki buckets = 256 Ki slots (3 MiB for violations, 9 MiB for
  // accidents). It was 1 Mi slots: a table doubled to 2^k buckets could sit
  // at half load with tens of MiB to spare (an accident table of 275 k ids
  // took 18 MiB for 11 MiB of entries). Lower still would save more for
  // small tables but costs a fresh table's fill rate: growing by half moves
  // entries more often and keeps the table fuller (more cuckoo kicks).
  static constexpr size_t kDoubleBelowBuckets = size_t{1} << 16;

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

  // Grow before 88% full. 2-choice 4-way cuckoo tables fill to ~97%, but
  // above ~85% most inserts find both buckets full and move entries: at 92%
  // the hot-path benchmark ran 8-10% slower (BENCHMARKS.md).
  static size_t MaxSizeOf(size_t n_buckets) { return n_buckets * kSlots / 100 * 88; }
  size_t MaxSize() const { return MaxSizeOf(n_buckets_); }

  // Doubles a small table (cheap, and a fresh table grows through many
  // sizes); grows a large one by half, so that memory stays closer to what
  // the ids need (a steady-state table stops growing altogether). It grew by
  // a quarter until session 10: a fresh table then moved its ids ~3.5 times
  // each on the way to a million (now ~2), and ran fuller (more cuckoo
  // walks). Growing by half made that pass 5-10% faster (BENCHMARKS.md).
  void Grow() {
    const size_t n = n_buckets_;
    Resize(n < kDoubleBelowBuckets ? 2 * n : n + n / 2 + 1);
  }

  // Maps a uniform 64-bit value to [0, n) without a division.
  static size_t Range(uint64_t x, size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(x) * n) >> 64);
  }
  std::pair<size_t, size_t> Buckets(const Fingerprint& fp) const {
    return BucketsIn(fp, n_buckets_);
  }
  // The candidate buckets of `fp` in a table of `n` buckets.
  static std::pair<size_t, size_t> BucketsIn(const Fingerprint& fp, size_t n) {
    const uint64_t lo = (static_cast<uint64_t>(fp.w1) << 32) | fp.w0;
    return {Range(lo, n),
            Range(fingerprint_internal::Fmix(lo ^ (static_cast<uint64_t>(fp.w2) << 17)), n)};
  }

  Slot* FindIn(size_t bucket, const Fingerprint& fp) {
    for (Slot& s : buckets()[bucket].slots) {
      if (s.Is(fp)) return &s;
    }
    return nullptr;
  }

  bool PutIn(size_t bucket, const Slot& slot) {
    for (Slot& s : buckets()[bucket].slots) {
      if (s.empty()) {
        s = slot;
        return true;
      }
    }
    return false;
  }

  // Places `slot`: in one of its buckets if either has room; else by moving
  // one of their 8 residents to its other bucket when that has room (the 8
  // other buckets are fetched from memory together, not one after another);
  // else by kicking entries along a random walk. On failure `slot` holds the
  // entry left homeless and false is returned.
  bool Place(Slot& slot) {
    auto [b1, b2] = Buckets(slot.fp());
    if (PutIn(b1, slot) || PutIn(b2, slot)) return true;
    size_t other[2][kSlots];
    for (int i = 0; i < 2; ++i) {
      const size_t b = i == 0 ? b1 : b2;
      for (int j = 0; j < kSlots; ++j) {
        const auto [c1, c2] = Buckets(buckets()[b].slots[j].fp());
        other[i][j] = b == c1 ? c2 : c1;
        PrefetchBucket(other[i][j], PrefetchIntent::kWrite);
      }
    }
    for (int i = 0; i < 2; ++i) {
      Slot* slots = buckets()[i == 0 ? b1 : b2].slots;
      for (int j = 0; j < kSlots; ++j) {
        if (PutIn(other[i][j], slots[j])) {
          slots[j] = slot;
          return true;
        }
      }
    }
    size_t bucket = (rng_ & 1) ? b1 : b2;
    for (int kick = 0; kick < kMaxKicks; ++kick) {
      rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
      Slot& victim = buckets()[bucket].slots[(rng_ >> 33) % kSlots];
      std::swap(victim, slot);
      const auto [v1, v2] = Buckets(slot.fp());
      bucket = bucket == v1 ? v2 : v1;
      if (PutIn(bucket, slot)) return true;
    }
    return false;
  }

  Bucket* buckets() const { return static_cast<Bucket*>(memory_.data()); }

  // Asks for both ends of bucket `b` (a bucket may straddle two cache lines).
  void PrefetchBucket(size_t b, PrefetchIntent intent) const {
    const char* p = reinterpret_cast<const char*>(&buckets()[b]);
    processors_internal::Prefetch(p, intent);
    processors_internal::Prefetch(p + sizeof(Bucket) - 1, intent);
  }

  // Moves every entry into a table of `n_buckets` (more than now). Range()
  // is monotone in n: an entry's candidate buckets in the new table lie at
  // about n_new / n_old times the old ones. So an entry that sits in its
  // first (second) candidate moves to its first (second) candidate in the new
  // table, and the pass walks both tables front to back, with no random
  // access. When doubling, that bucket (2i or 2i+1) always has room: it takes
  // entries from old bucket i only. When growing by half a new bucket can
  // draw on two old ones, and an entry that finds it full is placed by
  // the usual cuckoo walk.
  void Resize(size_t n_buckets) {
    ZeroedPages old = std::move(memory_);
    const size_t old_n = n_buckets_;
    const Bucket* from = static_cast<const Bucket*>(old.data());
    while (true) {
      memory_ = ZeroedPages(n_buckets * sizeof(Bucket));  // all slots empty
      n_buckets_ = n_buckets;
      bool placed_all = true;
      for (size_t i = 0; i < old_n && placed_all; ++i) {
        for (const Slot& s : from[i].slots) {
          if (s.empty()) continue;
          const bool first = BucketsIn(s.fp(), old_n).first == i;
          const auto [b1, b2] = Buckets(s.fp());
          if (PutIn(first ? b1 : b2, s)) continue;
          Slot moving = s;
          if (!Place(moving)) {  // practically impossible at <= 88% / 1.5 load
            placed_all = false;
            break;
          }
        }
      }
      if (placed_all) return;
      n_buckets += n_buckets / 2 + 1;
    }
  }

  // Zero bytes are empty slots: the memory needs no constructor.
  static_assert(std::is_trivially_copyable_v<Value>);
  ZeroedPages memory_;
  size_t n_buckets_ = 0;
  size_t size_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_ID_TABLE_H_
