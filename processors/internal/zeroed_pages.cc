#include "processors/internal/zeroed_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace roadpulse {
namespace processors_internal {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPage = 4096;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

ZeroedPages::ZeroedPages(size_t bytes) {
  if (bytes == 0) return;
  const bool huge = bytes >= kHugePage;
  size_ = RoundUp(bytes, huge ? kHugePage : kPage);
  // Over-map by one huge page, then trim the head and tail so the block
  // starts on a 2 MiB boundary.
  const size_t mapped = huge ? size_ + kHugePage : size_;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "roadpulse: out of memory mapping %zu bytes for the dedup table\n",
                 mapped);
    std::abort();
  }
  if (!huge) {
    data_ = p;
    Populate();
    return;
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = RoundUp(start, kHugePage);
  if (aligned > start) munmap(p, aligned - start);
  const uintptr_t end = start + mapped;
  if (end > aligned + size_) munmap(reinterpret_cast<void*>(aligned + size_), end - aligned - size_);
  data_ = reinterpret_cast<void*>(aligned);
  madvise(data_, size_, MADV_HUGEPAGE);  // advice: failure only means small pages
  Populate();
}

void ZeroedPages::Populate() {
#ifdef MADV_POPULATE_WRITE
  madvise(data_, size_, MADV_POPULATE_WRITE);
#endif
}

ZeroedPages::~ZeroedPages() { Release(); }

ZeroedPages::ZeroedPages(ZeroedPages&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

ZeroedPages& ZeroedPages::operator=(ZeroedPages&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void ZeroedPages::Release() {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace processors_internal
}  // namespace roadpulse
