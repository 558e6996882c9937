// Checks shared by the CSV fuzz targets (csv_fuzzer.cc, csv_mapping_fuzzer.cc).
#ifndef ROADPULSE_TESTS_FUZZ_CSV_CHECKS_H_
#define ROADPULSE_TESTS_FUZZ_CSV_CHECKS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ingest/csv_mapping.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse::fuzz {

class CountingSink final : public RejectSink {
 public:
  void Reject(std::string_view source, std::string_view where, std::string_view reason) override {
    FUZZ_CHECK(fuzz::StartsWith(where, "line "));
    FUZZ_CHECK(!reason.empty());
    ++count;
  }
  int64_t count = 0;
};

// Reads `path` through CsvEventSource to its end or first error. Checks that
// every record is an IncidentEvent whose id is its key, that the sink saw
// every rejection, and that every data row was counted once: emitted (one
// record per row, or per group of casualty rows) or rejected.
inline void CheckMappedRows(const std::string& path, const CsvMapping& mapping,
                            bool casualty_rows) {
  CountingSink sink;
  absl::StatusOr<std::unique_ptr<CsvEventSource>> src = CsvEventSource::Open(path, mapping, &sink);
  if (!src.ok()) {
    FUZZ_CHECK(src.status().code() == absl::StatusCode::kInvalidArgument ||
               src.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  SourceRecord rec;
  v1::IncidentEvent event;
  int64_t records = 0;
  absl::Status status;
  while (true) {
    absl::StatusOr<bool> more = (*src)->Next(&rec);
    if (!more.ok()) {
      FUZZ_CHECK(more.status().code() == absl::StatusCode::kDataLoss);
      status = more.status();
      break;
    }
    if (!*more) break;
    ++records;
    FUZZ_CHECK(rec.kind == v1::EVENT_KIND_INCIDENT);
    FUZZ_CHECK(event.ParseFromArray(rec.value.data(), static_cast<int>(rec.value.size())));
    FUZZ_CHECK(event.id() == rec.key);
    FUZZ_CHECK(!event.id().empty());
    FUZZ_CHECK(event.revision() == 1);
    (void)(*src)->Where();
  }
  const CsvEventSource& s = **src;
  FUZZ_CHECK(s.rejected() == sink.count);
  if (!status.ok()) return;
  if (casualty_rows) {
    FUZZ_CHECK(records + s.rejected() <= s.rows());
    FUZZ_CHECK(records > 0 || s.rejected() == s.rows());
  } else {
    FUZZ_CHECK(records + s.rejected() == s.rows());
  }
}

}  // namespace roadpulse::fuzz

#endif  // ROADPULSE_TESTS_FUZZ_CSV_CHECKS_H_
