#include "ingest/csv_reader.h"

#include <algorithm>
#include <cstring>

#include "fmt/format.h"

namespace roadpulse {

CsvReader::CsvReader(std::unique_ptr<CompressedFileReader> file, CsvOptions options)
    : file_(std::move(file)), options_(options) {
  buf_.resize(1u << 20);
}

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path,
                                                           const CsvOptions& options) {
  absl::StatusOr<std::unique_ptr<CompressedFileReader>> file = CompressedFileReader::Open(path);
  if (!file.ok()) return file.status();
  std::unique_ptr<CsvReader> r(new CsvReader(*std::move(file), options));
  absl::Status st = r->Fill();
  if (!st.ok()) return st;
  r->empty_ = r->end_ == 0;
  if (r->end_ >= 3 && std::memcmp(r->buf_.data(), "\xEF\xBB\xBF", 3) == 0) r->pos_ = 3;  // BOM
  return r;
}

absl::Status CsvReader::Fill() {
  if (eof_) return absl::OkStatus();
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buf_.size()) {
    if (buf_.size() >= options_.max_row_bytes) {
      return absl::DataLossError(fmt::format(
          "{}:{}: a row longer than {} bytes (a quoted field that is never closed?)", path(),
          line_, options_.max_row_bytes));
    }
    buf_.resize(buf_.size() * 2);
  }
  absl::StatusOr<size_t> got = file_->Read(buf_.data() + end_, buf_.size() - end_);
  if (!got.ok()) return got.status();
  if (*got == 0) eof_ = true;
  end_ += *got;
  return absl::OkStatus();
}

bool CsvReader::ParseRow(CsvRow* row, size_t* consumed, int64_t* newlines) {
  storage_.clear();
  bounds_.clear();
  row->problem.clear();
  const char* const begin = buf_.data() + pos_;
  const char* const end = buf_.data() + end_;
  const char d = options_.delimiter;
  const char q = options_.quote;
  const char* p = begin;
  int64_t nl = 0;
  while (true) {
    // One field starting at p.
    if (p < end && *p == q) {
      ++p;
      const int64_t start_line = line_ + nl;
      while (true) {
        const char* hit = static_cast<const char*>(std::memchr(p, q, end - p));
        if (hit == nullptr) {
          if (!eof_) return false;
          // The quote is never closed: the rest of the file is this field.
          nl += std::count(p, end, '\n');
          storage_.append(p, end);
          p = end;
          row->problem = fmt::format("quoted field opened on line {} is never closed", start_line);
          break;
        }
        nl += std::count(p, hit, '\n');
        storage_.append(p, hit);
        p = hit + 1;
        if (p == end && !eof_) return false;
        if (p < end && *p == q) {  // "" is one quote
          storage_.push_back(q);
          ++p;
          continue;
        }
        break;
      }
      // After the closing quote: a delimiter, a line end or the end.
      if (p < end && *p != d && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
        if (*p == '\r' && p + 1 == end && !eof_) return false;
        if (row->problem.empty()) {
          row->problem = fmt::format("text after the closing quote of field {}", bounds_.size() + 1);
        }
        while (p < end && *p != d && *p != '\n') storage_.push_back(*p++);
        if (p == end && !eof_) return false;
      }
    } else {
      const char* f = p;
      while (p < end && *p != d && *p != '\n') ++p;
      if (p == end && !eof_) return false;
      const char* fe = p;
      if (p < end && *p == '\n' && fe > f && fe[-1] == '\r') --fe;  // CRLF
      if (p == end && fe > f && fe[-1] == '\r') --fe;
      storage_.append(f, fe);
    }
    bounds_.push_back(storage_.size());
    if (p < end && *p == d) {
      ++p;
      continue;
    }
    // Line end or end of data.
    if (p < end && *p == '\r') ++p;
    if (p < end && *p == '\n') {
      ++p;
      ++nl;
    }
    break;
  }
  *consumed = static_cast<size_t>(p - begin);
  *newlines = nl;
  return true;
}

absl::StatusOr<bool> CsvReader::Next(CsvRow* row) {
  while (true) {
    if (pos_ == end_) {
      if (eof_) return false;
      absl::Status st = Fill();
      if (!st.ok()) return st;
      continue;
    }
    size_t consumed = 0;
    int64_t newlines = 0;
    if (!ParseRow(row, &consumed, &newlines)) {
      absl::Status st = Fill();
      if (!st.ok()) return st;
      continue;
    }
    row->line = line_;
    pos_ += consumed;
    line_ += newlines;
    // A blank line is one empty field: skip it.
    if (bounds_.size() == 1 && bounds_[0] == 0 && row->problem.empty()) continue;
    row->fields.clear();
    size_t start = 0;
    for (size_t b : bounds_) {
      row->fields.emplace_back(storage_.data() + start, b - start);
      start = b;
    }
    row->raw = storage_;
    return true;
  }
}

}  // namespace roadpulse
