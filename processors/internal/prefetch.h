// Prefetch(p, intent): a cache hint that the optimizer cannot drop.
//
// g++ 12 treats __builtin_prefetch as free of side effects. A function whose
// only effects are prefetches is then found "pure" (-fipa-pure-const), and a
// call to it, having no result that is used, is deleted: IdTable::Prefetch and
// PartitionProcessor::PrefetchBucket compiled to nothing that way, the hints
// silently gone. The empty volatile asm that names the address is a side
// effect the optimizer keeps; it emits no instruction and clobbers nothing.
//
// Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_PREFETCH_H_
#define ROADPULSE_PROCESSORS_INTERNAL_PREFETCH_H_

namespace roadpulse {
namespace processors_internal {

enum class PrefetchIntent { kRead, kWrite };

inline void Prefetch(const void* p, PrefetchIntent intent) {
  if (intent == PrefetchIntent::kWrite) {
    __builtin_prefetch(p, 1, 3);
  } else {
    __builtin_prefetch(p, 0, 3);
  }
  asm volatile("" : : "r"(p));
}

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_PREFETCH_H_
