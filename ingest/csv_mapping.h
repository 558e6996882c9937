// CSV import through a declarative mapping (TOML): turns the rows of a public
// crash dataset into IncidentEvents without code. The mapping language is
// documented, key by key, in ingest/README.md; shipped examples are in
// deploy/config/mappings/.
//
//   absl::StatusOr<CsvMapping> m = CsvMapping::LoadFile("city.toml", regions);
//   absl::StatusOr<std::unique_ptr<CsvEventSource>> src =
//       CsvEventSource::Open("accidents.csv", *m, &rejects);
//   ... (*src)->Next(&record) as for any RecordSource ...
//
// A row that does not map (a missing id or date, a value the mapping cannot
// read, a ragged row, invalid UTF-8) goes to the RejectSink with its line
// number and reason and is counted; the rows after it still count.
#ifndef ROADPULSE_INGEST_CSV_MAPPING_H_
#define ROADPULSE_INGEST_CSV_MAPPING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/csv_reader.h"
#include "ingest/record_source.h"
#include "processors/region_table.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

namespace ingest_internal {
struct MappingSpec;
}  // namespace ingest_internal

// A loaded, validated mapping. Immutable; cheap to share.
class CsvMapping {
 public:
  // kInvalidArgument names the file and the key: unknown keys, a missing or
  // contradictory setting, a bad time format, a region code not in the table.
  // `regions` must outlive the mapping.
  static absl::StatusOr<CsvMapping> LoadFile(const std::string& path, const RegionTable& regions);
  static absl::StatusOr<CsvMapping> LoadString(std::string_view toml, std::string_view source_name,
                                               const RegionTable& regions);

  const std::string& source_name() const;
  const ingest_internal::MappingSpec& spec() const { return *spec_; }
  const RegionTable& regions() const { return *regions_; }

 private:
  CsvMapping() = default;
  std::shared_ptr<const ingest_internal::MappingSpec> spec_;
  const RegionTable* regions_ = nullptr;
};

// The rows of one CSV file as IncidentEvent records (key = accident id, no
// record time). Thread-compatible.
class CsvEventSource final : public RecordSource {
 public:
  // Opens `path` and resolves the mapping's columns against its header.
  // kInvalidArgument for an empty file or a column the header lacks (naming
  // the mapping key, the column and the columns there are). `mapping` and
  // `rejects` (may be nullptr: rejects are only counted) must outlive this.
  static absl::StatusOr<std::unique_ptr<CsvEventSource>> Open(const std::string& path,
                                                              const CsvMapping& mapping,
                                                              RejectSink* rejects);
  ~CsvEventSource() override;

  absl::StatusOr<bool> Next(SourceRecord* record) override;
  const std::string& name() const override { return reader_->path(); }
  // "line N" (for casualty rows, the line of the accident's first row).
  RecordPosition Position() const override { return RecordPosition{where_line_, -1}; }
  std::string Describe(const RecordPosition& position) const override;
  uint64_t file_bytes_read() const override { return reader_->file_bytes_read(); }
  uint64_t file_size() const override { return reader_->file_size(); }
  int64_t rejected() const override { return rejected_; }
  // Data rows read (not counting the header).
  int64_t rows() const { return rows_; }

  // What one row or group of rows maps to (public for the implementation's
  // helpers; not part of the interface).
  struct Mapped {
    std::string id;
    int64_t occurred_unix_s = 0;
    std::string region_code;
    std::string township_code;
    int32_t deaths = 0;
    int32_t injuries = 0;
    int64_t property_loss_yuan = 0;
    v1::Handling handling = v1::HANDLING_UNSPECIFIED;
    v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
    v1::RoadClass road_class = v1::ROAD_CLASS_UNSPECIFIED;
    uint32_t vehicles = 0;  // bit per VehicleCategory
    bool alcohol = false;
    int64_t line = 0;
  };

 private:
  CsvEventSource(std::unique_ptr<CsvReader> reader, const CsvMapping& mapping,
                 RejectSink* rejects);
  absl::Status ResolveColumns(const CsvRow& header);
  // Maps one row; false (and the reason) when it does not map.
  bool MapRow(const CsvRow& row, Mapped* out, std::string* reason);
  void Reject(int64_t line, std::string_view reason);
  void Emit(const Mapped& m, SourceRecord* record);

  std::unique_ptr<CsvReader> reader_;
  const CsvMapping& mapping_;
  const ingest_internal::MappingSpec& spec_;
  RejectSink* rejects_;
  std::vector<int> columns_;  // spec column slot -> field index
  size_t header_width_ = 0;
  absl::TimeZone tz_;
  CsvRow row_;
  int64_t rows_ = 0;
  int64_t rejected_ = 0;
  int64_t where_line_ = 0;
  // Casualty rows: the accident being collected, and ids already finished.
  std::optional<Mapped> group_;
  absl::flat_hash_map<std::string, int64_t> finished_;  // id -> line of its first row
  v1::IncidentEvent event_;
  std::string key_;
  std::string value_;
  std::string id_prefix_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_CSV_MAPPING_H_
