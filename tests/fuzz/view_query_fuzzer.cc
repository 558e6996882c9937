// libFuzzer target for the view's query parser (sinks/view_query.h): any bytes
// as the raw query string of /api/v1/counts and /api/v1/report. Built with
// -DROADPULSE_BUILD_FUZZERS=ON and clang (see tests/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sinks/view_query.h"

namespace {
const roadpulse::RegionTable& Regions() {
  static const auto* table = new roadpulse::RegionTable(
      *roadpulse::RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml"));
  return *table;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<roadpulse::QueryParams> params = roadpulse::ParseQueryString(query);
  if (!params.ok()) return 0;
  const absl::CivilDay today(2025, 9, 5);
  (void)roadpulse::ParseCountsQuery(*params, Regions(), today);
  (void)roadpulse::ParseReportQuery(*params, Regions(), today);
  for (const auto& [name, value] : *params) (void)roadpulse::ParseWindow(value, today);
  return 0;
}
