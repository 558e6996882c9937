// libFuzzer target for CSV mapping files (ingest/csv_mapping.h). Input
// bytes: a mapping (TOML), loaded with CsvMapping::LoadString against
// deploy/config/regions/binzhou.toml.
//
// When it loads, a CSV file is made up for it and read through
// CsvEventSource, so that the mapping's rules run on rows: the header holds
// every string (and integer, in decimal) found anywhere in the mapping, so
// every column the mapping names is there; the cells take values from those
// same strings and from a fixed list of plausible ones (dates, hours, region
// codes and names, numbers, "NA", blanks), in pairs of rows that share their
// even columns (casualty rows of one accident). Checked as for csv_fuzzer:
// records are IncidentEvents keyed by their id, and every row is counted
// once, emitted or rejected.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "ingest/csv_mapping.h"
#include "tests/fuzz/csv_checks.h"
#include "tests/fuzz/fuzz_support.h"
#include "toml++/toml.h"

namespace roadpulse {
namespace {

constexpr int kRows = 16;

const RegionTable& Regions() {
  static const RegionTable* table = [] {
    absl::StatusOr<RegionTable> t =
        RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
    FUZZ_CHECK(t.ok());
    return new RegionTable(*std::move(t));
  }();
  return *table;
}

// Every string and integer in the document, each once, in document order.
void CollectValues(const toml::node& node, std::vector<std::string>* out,
                   absl::flat_hash_set<std::string>* seen) {
  auto add = [&](std::string v) {
    if (seen->insert(v).second) out->push_back(std::move(v));
  };
  if (const toml::table* t = node.as_table()) {
    for (const auto& [key, value] : *t) CollectValues(value, out, seen);
  } else if (const toml::array* a = node.as_array()) {
    for (const toml::node& e : *a) CollectValues(e, out, seen);
  } else if (node.is_string()) {
    add(*node.value<std::string>());
  } else if (node.is_integer()) {
    add(std::to_string(*node.value<int64_t>()));
  }
}

std::string Quoted(std::string_view cell) {
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string MakeCsv(const std::vector<std::string>& columns, const std::vector<std::string>& pool,
                    char delimiter) {
  std::string csv;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c > 0) csv.push_back(delimiter);
    csv += Quoted(columns[c]);
  }
  csv.push_back('\n');
  for (size_t r = 0; r < kRows; ++r) {
    const size_t pair = r / 2;
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c > 0) csv.push_back(delimiter);
      const size_t i = pair * 7 + c * 3 + pair * c + (c % 2 == 1 ? r : 0);
      csv += Quoted(pool[i % pool.size()]);
    }
    csv.push_back('\n');
  }
  return csv;
}

int TestOneInput(const uint8_t* data, size_t size) {
  fuzz::QuietProtobufLogs();
  static auto* file = new fuzz::ScratchFile("csv_mapping");
  const std::string_view text = fuzz::AsText(data, size);
  absl::StatusOr<CsvMapping> mapping = CsvMapping::LoadString(text, "fuzz.toml", Regions());
  if (!mapping.ok()) {
    FUZZ_CHECK(mapping.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(mapping->source_name() == "fuzz.toml");

  // It loaded, so it is TOML.
  const toml::table root = toml::parse(text, std::string_view("fuzz.toml"));
  std::vector<std::string> columns;
  absl::flat_hash_set<std::string> seen;
  CollectValues(root, &columns, &seen);
  if (columns.empty() || columns.size() > 512) return 0;
  std::vector<std::string> pool = columns;
  for (const char* v : {"", "NA", "0", "1", "2", "99", "20", "85", "2025", "3", "14", "23",
                        "2025-01-05 08:15", "2025-02-30 08:15", "2025-12-31 23:59", "371602",
                        "371621", "滨城区", "Y", "N", "-1", "1e3"}) {
    if (seen.insert(v).second) pool.push_back(v);
  }
  char delimiter = ',';
  if (std::optional<std::string> d = root["source"]["delimiter"].value<std::string>();
      d.has_value() && d->size() == 1) {
    delimiter = (*d)[0];
  }
  const bool casualty_rows = root["source"]["rows"].value<std::string>() == "casualty";
  file->Write(MakeCsv(columns, pool, delimiter));
  fuzz::CheckMappedRows(file->path(), *mapping, casualty_rows);
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
