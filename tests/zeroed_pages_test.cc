// ZeroedPages (the dedup tables' memory): zeroed and writable at every size,
// on both paths (small pages; 2 MiB-aligned for transparent huge pages), and
// already mapped when returned, so filling a table takes no page fault per
// page (counted with getrusage).
#include "processors/internal/zeroed_pages.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "gtest/gtest.h"

namespace roadpulse {
namespace processors_internal {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kHugePage = size_t{2} << 20;

long MinorFaultsOfThisThread() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

// Whether this kernel knows MADV_POPULATE_WRITE (Linux 5.14+).
bool KernelPopulates() {
#ifdef MADV_POPULATE_WRITE
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool ok = madvise(p, kPage, MADV_POPULATE_WRITE) == 0;
  munmap(p, kPage);
  return ok;
#else
  return false;
#endif
}

TEST(ZeroedPagesTest, EmptyBlockHasNoMemory) {
  ZeroedPages empty(0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

TEST(ZeroedPagesTest, ZeroedAndWritableOnBothPaths) {
  for (size_t bytes : {size_t{1}, kPage + 1, size_t{100} * 1000, kHugePage, 3 * kHugePage + 5}) {
    SCOPED_TRACE(bytes);
    ZeroedPages block(bytes);
    ASSERT_NE(block.data(), nullptr);
    ASSERT_GE(block.size(), bytes);
    if (bytes >= kHugePage) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(block.data()) % kHugePage, 0u);
    }
    auto* p = static_cast<unsigned char*>(block.data());
    size_t nonzero = 0;
    for (size_t i = 0; i < block.size(); ++i) nonzero += p[i] != 0;
    EXPECT_EQ(nonzero, 0u);
    std::memset(p, 0xAB, block.size());
    EXPECT_EQ(p[block.size() - 1], 0xAB);
  }
}

TEST(ZeroedPagesTest, MoveHandsTheBlockOver) {
  ZeroedPages a(kPage);
  static_cast<char*>(a.data())[7] = 'x';
  void* const data = a.data();
  ZeroedPages b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(b.data(), data);
  ZeroedPages c(kPage);
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(static_cast<char*>(c.data())[7], 'x');
}

// A block below the huge-page size is 256 small pages: without the
// populate call, writing it takes one fault per page (256), or two when a
// read came first.
TEST(ZeroedPagesTest, NewBlockIsAlreadyMappedWritable) {
  if (!KernelPopulates()) GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE (before 5.14)";
  constexpr size_t kBytes = size_t{1} << 20;
  constexpr long kPages = kBytes / kPage;
  ZeroedPages block(kBytes);
  auto* p = static_cast<volatile unsigned char*>(block.data());
  const long before = MinorFaultsOfThisThread();
  for (size_t i = 0; i < kBytes; i += kPage) {
    const unsigned char read = p[i];  // a read first, as a table lookup does
    p[i] = static_cast<unsigned char>(read + 1);
  }
  const long faults = MinorFaultsOfThisThread() - before;
  // Room for the sanitizers' shadow memory (one page per 8 here).
  EXPECT_LT(faults, kPages / 4) << faults << " faults writing " << kPages << " pages";
}

}  // namespace
}  // namespace processors_internal
}  // namespace roadpulse
