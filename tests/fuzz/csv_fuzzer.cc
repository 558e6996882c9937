// libFuzzer target for CSV input (ingest/csv_reader.h, ingest/csv_mapping.h).
// Input bytes: a CSV file's content, as is (comma-delimited; gzip or zstd
// when it starts with their magic bytes).
//
// The file is read:
//  1. by CsvReader, to its end or its first error;
//  2. by CsvReader again behind a one-field filler row that ends kTail bytes
//     short of the reader's 1 MiB buffer, so that rows cross the buffer's end
//     (uncompressed input only);
//  3. through CsvEventSource with a shipped mapping, when the first line
//     names its id column: deploy/config/mappings/city-accidents.toml (a row
//     per accident, "accident_no") or casualty-rows.toml (a row per casualty,
//     grouped into accidents, "Accident_Index"). Other files stop at the
//     header, after CsvReader allocated its 1 MiB buffer (a fresh mapping
//     that ASan faults in page by page: the slowest part of an input).
// Checked: rows come in line order, their fields tile `raw`; the filler read
// returns the same rows; a mapped record is an IncidentEvent whose id is its
// key; every row is counted once: emitted (one per accident) or rejected,
// and the RejectSink saw every rejection.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ingest/csv_mapping.h"
#include "ingest/csv_reader.h"
#include "tests/fuzz/csv_checks.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse {
namespace {

constexpr size_t kReaderBuffer = 1u << 20;  // CsvReader's first buffer
constexpr size_t kTail = 100;               // input bytes inside the first buffer

struct Row {
  std::vector<std::string> fields;
  bool malformed = false;
};

struct ReadResult {
  std::vector<Row> rows;
  absl::Status status;
};

const RegionTable& Regions() {
  static const RegionTable* table = [] {
    absl::StatusOr<RegionTable> t =
        RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
    FUZZ_CHECK(t.ok());
    return new RegionTable(*std::move(t));
  }();
  return *table;
}

const CsvMapping& Mapping(const char* name) {
  absl::StatusOr<CsvMapping> m = CsvMapping::LoadFile(
      std::string(ROADPULSE_SOURCE_DIR "/deploy/config/mappings/") + name, Regions());
  FUZZ_CHECK(m.ok());
  return *new CsvMapping(*std::move(m));
}

// `filler`: the file starts with FillerFile's row, which is checked, not kept.
ReadResult ReadRows(const std::string& path, bool filler = false) {
  ReadResult out;
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(path, CsvOptions());
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == absl::StatusCode::kDataLoss);
    out.status = r.status();
    return out;
  }
  CsvRow row;
  int64_t last_line = 0;
  while (true) {
    absl::StatusOr<bool> more = (*r)->Next(&row);
    if (!more.ok()) {
      FUZZ_CHECK(more.status().code() == absl::StatusCode::kDataLoss);
      FUZZ_CHECK(fuzz::StartsWith(more.status().message(), path));
      out.status = more.status();
      break;
    }
    if (!*more) break;
    FUZZ_CHECK(row.line > last_line);
    last_line = row.line;
    FUZZ_CHECK(!row.fields.empty());
    size_t offset = 0;
    Row copy;
    copy.malformed = !row.problem.empty();
    for (std::string_view f : row.fields) {
      FUZZ_CHECK(f.data() == row.raw.data() + offset);
      offset += f.size();
      if (!filler) copy.fields.emplace_back(f);
    }
    FUZZ_CHECK(offset == row.raw.size());
    if (filler) {
      FUZZ_CHECK(row.line == 1 && row.fields.size() == 1 && row.fields[0].size() > kTail);
      filler = false;
      continue;
    }
    out.rows.push_back(std::move(copy));
  }
  return out;
}

// A file whose first kReaderBuffer - kTail bytes are one row of one field,
// followed by the input. The filler is written once; each input rewrites the
// tail only.
class FillerFile {
 public:
  FillerFile() : file_("csv_filler") {
    std::string filler(kReaderBuffer - kTail - 1, 'x');
    filler.push_back('\n');
    file_.Write(filler);
  }
  const std::string& Fill(std::string_view input) {
    file_.Truncate(kReaderBuffer - kTail);
    file_.WriteAt(kReaderBuffer - kTail, input);
    return file_.path();
  }

 private:
  fuzz::ScratchFile file_;
};

int TestOneInput(const uint8_t* data, size_t size) {
  fuzz::QuietProtobufLogs();
  static auto* file = new fuzz::ScratchFile("csv");
  static auto* filler = new FillerFile();
  static const CsvMapping& accidents = Mapping("city-accidents.toml");
  static const CsvMapping& casualties = Mapping("casualty-rows.toml");
  const std::string_view bytes = fuzz::AsText(data, size);
  file->Write(bytes);

  const ReadResult plain = ReadRows(file->path());
  const bool compressed = fuzz::StartsWith(bytes, std::string_view("\x1f\x8b", 2)) ||
                          fuzz::StartsWith(bytes, std::string_view("\x28\xb5\x2f\xfd", 4));
  if (!compressed && plain.status.ok()) {
    // A byte-order mark is skipped at the start of a file only.
    const std::string_view rows =
        fuzz::StartsWith(bytes, "\xEF\xBB\xBF") ? bytes.substr(3) : bytes;
    const ReadResult filled = ReadRows(filler->Fill(rows), /*filler=*/true);
    FUZZ_CHECK(filled.status.ok());
    FUZZ_CHECK(filled.rows.size() == plain.rows.size());
    for (size_t i = 0; i < plain.rows.size(); ++i) {
      FUZZ_CHECK(filled.rows[i].fields == plain.rows[i].fields);
      FUZZ_CHECK(filled.rows[i].malformed == plain.rows[i].malformed);
    }
  }
  const std::string_view first_line = bytes.substr(0, bytes.find('\n'));
  if (compressed || first_line.find("accident_no") != std::string_view::npos) {
    fuzz::CheckMappedRows(file->path(), accidents, /*casualty_rows=*/false);
  }
  if (compressed || first_line.find("Accident_Index") != std::string_view::npos) {
    fuzz::CheckMappedRows(file->path(), casualties, /*casualty_rows=*/true);
  }
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
