// CsvReader: a streaming RFC 4180 CSV parser: quoted fields with embedded
// delimiters, quotes ("") and newlines, CRLF or LF line ends, blank lines
// skipped. Rows come back as views; memory is one buffer (grown only to the
// longest row), whatever the file size. Compressed files (gzip, zstd) are
// read transparently.
#ifndef ROADPULSE_INGEST_CSV_READER_H_
#define ROADPULSE_INGEST_CSV_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/compressed_file.h"

namespace roadpulse {

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  // A row longer than this is an error (e.g. a quote that is never closed).
  size_t max_row_bytes = 16u << 20;
};

// One parsed row. The views stay valid until the next Next() call.
struct CsvRow {
  std::vector<std::string_view> fields;
  int64_t line = 0;       // physical line the row starts on (1-based)
  std::string_view raw;   // the row's field bytes, concatenated (for UTF-8 checks)
  // Non-empty when the row is malformed (text after a closing quote, a quote
  // never closed): the row should be rejected with this reason.
  std::string problem;
};

// Thread-compatible.
class CsvReader {
 public:
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(const std::string& path,
                                                         const CsvOptions& options);

  // The next non-blank row: true, or false at the end. Errors (kDataLoss:
  // corrupt compression, a row over the limit) name the file and line.
  absl::StatusOr<bool> Next(CsvRow* row);

  const std::string& path() const { return file_->path(); }
  uint64_t file_bytes_read() const { return file_->file_bytes_read(); }
  uint64_t file_size() const { return file_->file_size(); }
  // True when the stream had no bytes at all (checked by Open).
  bool empty() const { return empty_; }

 private:
  CsvReader(std::unique_ptr<CompressedFileReader> file, CsvOptions options);
  absl::Status Fill();
  // Parses one row from pos_; false when it needs more bytes than buffered.
  bool ParseRow(CsvRow* row, size_t* consumed, int64_t* newlines);

  std::unique_ptr<CompressedFileReader> file_;
  CsvOptions options_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool empty_ = false;
  int64_t line_ = 1;          // line of buf_[pos_]
  std::string storage_;       // unescaped field bytes of the current row
  std::vector<size_t> bounds_;  // field end offsets into storage_
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_CSV_READER_H_
