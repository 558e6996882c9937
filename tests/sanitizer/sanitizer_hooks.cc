// Compiled into every executable of the sanitizer build (ROADPULSE_SANITIZE;
// the top-level CMakeLists.txt adds it), so that these settings hold however a
// binary is started: by ctest, by a Python test, or by hand. Options given in
// ASAN_OPTIONS or UBSAN_OPTIONS are applied after these.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#define ROADPULSE_SANITIZER_HOOK extern "C" __attribute__((visibility("default"), used))

// Stop at the first error (the default for ASan, said here so it is visible);
// report leaks at exit; check the order of dynamic initialisation across
// translation units.
ROADPULSE_SANITIZER_HOOK const char* __asan_default_options() {
  return "halt_on_error=1:detect_leaks=1:check_initialization_order=1";
}

// Stop at the first error (-fno-sanitize-recover=undefined already makes every
// check fatal), with a stack trace, and a SUMMARY line, which UBSan leaves out
// by default and which the hook below needs.
ROADPULSE_SANITIZER_HOOK const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:print_summary=1";
}

// Every report of every sanitizer ends with one "SUMMARY: ..." line, passed
// here. Printed to stderr as the runtime would; and when
// SANITIZER_SUMMARY_DIR names a directory, also appended to
// SANITIZER_SUMMARY_DIR/summary.<pid>. tests/sanitizer/collect_reports.py
// sets it, because GCC's UBSan runtime ignores log_path when ASan is linked
// too, so a UBSan report from a process whose stderr a test discards would
// otherwise be lost.
ROADPULSE_SANITIZER_HOOK void __sanitizer_report_error_summary(const char* summary) {
  const size_t length = std::strlen(summary);
  (void)!write(STDERR_FILENO, summary, length);
  (void)!write(STDERR_FILENO, "\n", 1);
  const char* dir = std::getenv("SANITIZER_SUMMARY_DIR");
  if (dir == nullptr || *dir == '\0') return;
  char path[4096];
  std::snprintf(path, sizeof path, "%s/summary.%d", dir, static_cast<int>(getpid()));
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!write(fd, summary, length);
  (void)!write(fd, "\n", 1);
  close(fd);
}
