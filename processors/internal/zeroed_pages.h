// ZeroedPages: a block of zeroed memory straight from the kernel (mmap), for
// the dedup tables. Compared with a std::vector of the same size:
//  - no clearing pass: the kernel's pages are already zero;
//  - the memory goes back to the system as soon as the block is freed;
//  - a block of 2 MiB or more is 2 MiB-aligned and asks for transparent huge
//    pages (madvise), so a table of millions of ids takes one page fault per
//    2 MiB instead of per 4 KiB, and random lookups miss the TLB far less.
//    Where THP is off the advice is ignored and the block works as before;
//  - the block is mapped writable before it is returned (one madvise
//    MADV_POPULATE_WRITE call): a table being filled then takes no page
//    fault per page, and no read fault on the shared zero page followed by a
//    copy-on-write fault whose TLB flush interrupts every other core running
//    the process. Kernels before 5.14 ignore the advice.
//
// Not thread-safe. Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_ZEROED_PAGES_H_
#define ROADPULSE_PROCESSORS_INTERNAL_ZEROED_PAGES_H_

#include <cstddef>

namespace roadpulse {
namespace processors_internal {

class ZeroedPages {
 public:
  ZeroedPages() = default;
  // At least `bytes` of zeroed memory. Aborts if the system has none left
  // (as operator new would throw).
  explicit ZeroedPages(size_t bytes);
  ~ZeroedPages();
  ZeroedPages(ZeroedPages&& other) noexcept;
  ZeroedPages& operator=(ZeroedPages&& other) noexcept;
  ZeroedPages(const ZeroedPages&) = delete;
  ZeroedPages& operator=(const ZeroedPages&) = delete;

  void* data() const { return data_; }
  // Bytes usable from data(); 0 for an empty block.
  size_t size() const { return size_; }

 private:
  void Release();
  // Maps every page of the block writable now (advice; failure is harmless).
  void Populate();
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_ZEROED_PAGES_H_
