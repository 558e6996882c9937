// Event-log files, CSV mappings and the broker-less replay (issue 6).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/csv_mapping.h"
#include "ingest/csv_reader.h"
#include "ingest/event_log_json.h"
#include "ingest/event_log_reader.h"
#include "ingest/event_log_writer.h"
#include "ingest/partitioner.h"
#include "ingest/replayer.h"
#include "processors/count_store.h"
#include "processors/region_table.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;

const char* kSource = ROADPULSE_SOURCE_DIR;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/ingest_files_test_" + name;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const RegionTable& Regions() {
  static const RegionTable* table = [] {
    absl::StatusOr<RegionTable> t =
        RegionTable::LoadFile(std::string(kSource) + "/deploy/config/regions/binzhou.toml");
    EXPECT_TRUE(t.ok()) << t.status();
    return new RegionTable(*std::move(t));
  }();
  return *table;
}

// Collects rejects.
struct Rejects : RejectSink {
  std::vector<std::string> lines;
  void Reject(std::string_view source, std::string_view where, std::string_view reason) override {
    lines.push_back(std::string(where) + ": " + std::string(reason));
  }
};

v1::IncidentEvent Incident(const std::string& id, int64_t occurred_s) {
  v1::IncidentEvent e;
  e.set_id(id);
  e.set_revision(1);
  e.mutable_occurred_at()->set_seconds(occurred_s);
  e.mutable_reported_at()->set_seconds(occurred_s + 60);
  e.mutable_location()->set_region_code("371602");
  e.set_injuries(1);
  e.set_severity(v1::SEVERITY_GENERAL);
  e.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
  return e;
}

// ---- partitioner ------------------------------------------------------

TEST(PartitionerTest, MatchesKafkaJavaMurmur2) {
  // Values from Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(KafkaMurmur2("21"), -973932308);
  EXPECT_EQ(KafkaMurmur2("foobar"), -790332482);
  EXPECT_EQ(KafkaMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(KafkaMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(KafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(KafkaMurmur2("abc"), 479470107);
  EXPECT_EQ(KafkaPartitionForKey("foobar", 8), (-790332482 & 0x7fffffff) % 8);
}

// ---- event-log files --------------------------------------------------

std::vector<v1::LoggedRecord> ReadAll(const std::string& path, absl::Status* error = nullptr) {
  std::vector<v1::LoggedRecord> out;
  absl::StatusOr<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, {});
  if (!r.ok()) {
    if (error != nullptr) *error = r.status();
    return out;
  }
  SourceRecord rec;
  while (true) {
    absl::StatusOr<bool> more = (*r)->Next(&rec);
    if (!more.ok()) {
      if (error != nullptr) *error = more.status();
      break;
    }
    if (!*more) break;
    v1::LoggedRecord l;
    l.set_kind(rec.kind);
    l.set_key(std::string(rec.key));
    l.set_value(std::string(rec.value));
    l.set_timestamp_unix_ms(rec.timestamp_unix_ms);
    out.push_back(l);
  }
  return out;
}

class EventLogTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EventLogTest, RoundTripsEveryFormatAndCompression) {
  const std::string path = TempPath(std::string("roundtrip") + GetParam());
  std::vector<v1::LoggedRecord> want;
  {
    absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(path, {});
    ASSERT_TRUE(w.ok()) << w.status();
    for (int i = 0; i < 5000; ++i) {
      v1::LoggedRecord l;
      l.set_kind(v1::EVENT_KIND_INCIDENT);
      l.set_key("A-" + std::to_string(i));
      if (i % 100 == 7) {
        l.set_value(std::string("\x0a\xff\x01garbage", 10));  // bad input is kept as it was
      } else if (i % 100 == 13) {
        // Valid events that JSON cannot carry (event_log_fuzzer): a field of a
        // newer schema (field 99 = 1), and an instant outside Timestamp's range.
        l.set_value(Incident(l.key(), 1735689600 + i).SerializeAsString() + "\x98\x06\x01");
      } else if (i % 100 == 19) {
        v1::IncidentEvent e = Incident(l.key(), 1735689600 + i);
        e.mutable_occurred_at()->set_seconds(506804601600);  // year 18000
        l.set_value(e.SerializeAsString());
      } else {
        l.set_value(Incident(l.key(), 1735689600 + i).SerializeAsString());
      }
      l.set_timestamp_unix_ms(1735689600000 + i);
      ASSERT_TRUE((*w)->Write(l.kind(), l.key(), l.value(), l.timestamp_unix_ms()).ok());
      want.push_back(l);
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  absl::Status error;
  std::vector<v1::LoggedRecord> got = ReadAll(path, &error);
  EXPECT_TRUE(error.ok()) << error;
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].SerializeAsString(), want[i].SerializeAsString()) << "record " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, EventLogTest,
                         ::testing::Values(".pb", ".pb.gz", ".pb.zst", ".jsonl", ".jsonl.gz",
                                           ".jsonl.zst"));

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// The file appears under its name only when Close() succeeds; until then the
// records go to <path>.partial, and a file already at the path is untouched.
TEST(EventLogWriterTest, TheFileTakesItsNameOnlyOnClose) {
  const std::string path = TempPath("named_on_close.pb.gz");
  WriteFile(path, "an earlier export");
  absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(path, {});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ((*w)->compression(), Compression::kGzip);  // by the final name
  const std::string v = Incident("N1", 1735689600).SerializeAsString();
  ASSERT_TRUE((*w)->Write(v1::EVENT_KIND_INCIDENT, "N1", v, 0).ok());
  EXPECT_TRUE(Exists(path + ".partial"));
  EXPECT_EQ(ReadFile(path), "an earlier export");
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_FALSE(Exists(path + ".partial"));
  absl::Status error;
  std::vector<v1::LoggedRecord> got = ReadAll(path, &error);
  EXPECT_TRUE(error.ok()) << error;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key(), "N1");
}

// Flush hands an uncompressed file's records to the operating system under
// the partial name: the records are there, the final name is not yet.
TEST(EventLogWriterTest, FlushWritesThePartialFileOnly) {
  const std::string path = TempPath("flushed.pb");
  std::remove(path.c_str());
  absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(path, {});
  ASSERT_TRUE(w.ok()) << w.status();
  const std::string v = Incident("F1", 1735689600).SerializeAsString();
  ASSERT_TRUE((*w)->Write(v1::EVENT_KIND_INCIDENT, "F1", v, 0).ok());
  EXPECT_EQ(ReadFile(path + ".partial"), "");  // still in the stdio buffer
  ASSERT_TRUE((*w)->Flush().ok());
  absl::Status error;
  std::vector<v1::LoggedRecord> got = ReadAll(path + ".partial", &error);
  EXPECT_TRUE(error.ok()) << error;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key(), "F1");
  EXPECT_FALSE(Exists(path));
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_TRUE(Exists(path));
  EXPECT_FALSE((*w)->Flush().ok());  // after Close
}

// Given up (destroyed without Close): nothing under either name, and the
// earlier file is as it was.
TEST(EventLogWriterTest, AnAbandonedWriteLeavesNothing) {
  const std::string path = TempPath("abandoned.pb");
  const std::string fresh = TempPath("abandoned_fresh.jsonl.zst");
  std::remove(fresh.c_str());
  WriteFile(path, "an earlier export");
  for (const std::string& p : {path, fresh}) {
    absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(p, {});
    ASSERT_TRUE(w.ok()) << w.status();
    for (int i = 0; i < 100; ++i) {
      const std::string k = "G" + std::to_string(i);
      ASSERT_TRUE((*w)->Write(v1::EVENT_KIND_INCIDENT, k,
                              Incident(k, 1735689600 + i).SerializeAsString(), 0)
                      .ok());
    }
  }
  EXPECT_EQ(ReadFile(path), "an earlier export");
  EXPECT_FALSE(Exists(path + ".partial"));
  EXPECT_FALSE(Exists(fresh));
  EXPECT_FALSE(Exists(fresh + ".partial"));
}

// A path that is not a regular file is written through: /dev/null stays a
// device, and a symbolic link stays a link, its target holding the records.
TEST(EventLogWriterTest, WritesThroughADeviceOrASymbolicLink) {
  const std::string target = TempPath("link_target.pb");
  const std::string link = TempPath("link.pb");
  std::remove(link.c_str());
  WriteFile(target, "");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  for (const std::string& p : {std::string("/dev/null"), link}) {
    absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(p, {});
    ASSERT_TRUE(w.ok()) << w.status();
    const std::string v = Incident("L1", 1735689600).SerializeAsString();
    ASSERT_TRUE((*w)->Write(v1::EVENT_KIND_INCIDENT, "L1", v, 0).ok());
    EXPECT_FALSE(Exists(p + ".partial")) << p;
    ASSERT_TRUE((*w)->Close().ok()) << p;
  }
  struct stat st;
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  absl::Status error;
  std::vector<v1::LoggedRecord> got = ReadAll(target, &error);
  EXPECT_TRUE(error.ok()) << error;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key(), "L1");
  std::remove(link.c_str());
}

TEST(EventLogReaderTest, TruncatedStreamIsAnErrorWithTheOffsetAndEarlierRecordsCount) {
  const std::string path = TempPath("truncated.pb");
  {
    absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(path, {});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 3; ++i) {
      const std::string v = Incident("T" + std::to_string(i), 1735689600).SerializeAsString();
      ASSERT_TRUE((*w)->Write(v1::EVENT_KIND_INCIDENT, "T" + std::to_string(i), v, 0).ok());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  std::string bytes = ReadFile(path);
  bytes.resize(bytes.size() - 5);  // cut inside the third record
  WriteFile(path, bytes);
  absl::Status error;
  std::vector<v1::LoggedRecord> got = ReadAll(path, &error);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(error.message()), HasSubstr(path));
  EXPECT_THAT(std::string(error.message()), HasSubstr("truncated record"));
  EXPECT_THAT(std::string(error.message()), HasSubstr("byte offset"));
  EXPECT_THAT(std::string(error.message()), HasSubstr("the 2 records before it were read"));
}

TEST(EventLogReaderTest, TruncatedGzipIsAnError) {
  const std::string path = TempPath("truncated.pb.gz");
  {
    absl::StatusOr<std::unique_ptr<EventLogWriter>> w = EventLogWriter::Create(path, {});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE((*w)->Write(v1::EVENT_KIND_INCIDENT, "k" + std::to_string(i),
                              Incident("k" + std::to_string(i), 1735689600 + i).SerializeAsString(), 0)
                      .ok());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  std::string bytes = ReadFile(path);
  bytes.resize(bytes.size() / 2);
  WriteFile(path, bytes);
  absl::Status error;
  std::vector<v1::LoggedRecord> got = ReadAll(path, &error);
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), 2000u);
  EXPECT_EQ(error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(error.message()), HasSubstr(path));
}

TEST(EventLogReaderTest, EmptyFileIsAnError) {
  const std::string path = TempPath("empty.pb");
  WriteFile(path, "");
  absl::Status error;
  ReadAll(path, &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(error.message()), HasSubstr("empty file"));
}

TEST(EventLogReaderTest, BadJsonLineIsRejectedWithItsLineAndTheRestCounts) {
  const std::string path = TempPath("bad.jsonl");
  WriteFile(path,
            "{\"incident\":{\"id\":\"J1\",\"revision\":1}}\n"
            "{\"incident\":{\"id\":\"J2\",\"nonsense\":1}}\n"
            "\n"
            "{\"kind\":\"EVENT_KIND_VIOLATION\",\"violation\":{\"id\":\"V1\"}}\n");
  Rejects rejects;
  EventLogReaderOptions options;
  options.rejects = &rejects;
  absl::StatusOr<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, options);
  ASSERT_TRUE(r.ok());
  SourceRecord rec;
  std::vector<std::string> keys;
  while (*(*r)->Next(&rec)) keys.push_back(std::string(rec.key));
  EXPECT_THAT(keys, ::testing::ElementsAre("J1", "V1"));
  ASSERT_EQ(rejects.lines.size(), 1u);
  EXPECT_THAT(rejects.lines[0], HasSubstr("line 2"));
}

// JSON lines of every kind a file can hold: good events, raw values, and
// lines that must be refused, some built to reach across a line's end when
// lines are joined (ParseEventLogJsonLines joins them).
std::vector<std::string> MixedJsonLines(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> lines;
  for (size_t i = 0; i < n; ++i) {
    std::string good;
    AppendEventLogJson(v1::EVENT_KIND_INCIDENT, "A-" + std::to_string(i),
                       Incident("A-" + std::to_string(i), 1735689600 + i).SerializeAsString(),
                       1735689600000 + i, std::nullopt, nullptr, &good);
    std::string line;
    switch (rng() % 16) {
      case 0:  // cut anywhere
        line = good.substr(0, rng() % good.size());
        break;
      case 1:  // two objects on one line
        line = good + "," + good;
        break;
      case 2:  // a line that closes the array of a joined batch and opens another
        line = good + R"(],"lines":[)" + good;
        break;
      case 3:
        line = good + "}";
        break;
      case 4:
        line = "{" + good;
        break;
      case 5:
        line = R"({"incident":{"id":"X","nonsense":1}})";
        break;
      case 6:
        line = R"({"kind":"EVENT_KIND_VIOLATION","incident":{"id":"X"}})";
        break;
      case 7:
        line =
            R"({"key":"a \"quoted\" } ] { [ key","rawValue":"AAE=","kind":"EVENT_KIND_INCIDENT"})";
        break;
      case 8:
        line = R"({"incident":{"id":"X"]})";  // brackets crossed
        break;
      case 9:
        line = "  " + good + " \t";
        break;
      case 10:
        line = "[" + good + "]";
        break;
      case 11:
        line = "{}";
        break;
      default:
        line = good;
    }
    lines.push_back(line);
  }
  return lines;
}

TEST(EventLogJsonTest, LinesParsedTogetherGiveWhatEachGivesAlone) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    // Mostly good batches (parsed together) and some with bad lines (each
    // alone), of sizes 1 to 300.
    std::vector<std::string> lines = MixedJsonLines(1 + (seed * 37) % 300, seed);
    if (seed % 2 == 0) {
      for (size_t i = 0; i < lines.size(); ++i) {
        std::string good;
        AppendEventLogJson(v1::EVENT_KIND_VIOLATION, "", "\x01\x02", 0, std::nullopt, nullptr,
                           &good);
        if (seed % 4 == 0 || i % 2 == 0) lines[i] = good;
      }
    }
    std::vector<std::string_view> views(lines.begin(), lines.end());
    std::vector<v1::LoggedRecord> records;
    std::vector<absl::Status> statuses;
    ParseEventLogJsonLines(views, &records, &statuses);
    ASSERT_EQ(records.size(), lines.size());
    ASSERT_EQ(statuses.size(), lines.size());
    int refused = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      v1::LoggedRecord alone;
      const absl::Status st = ParseEventLogJson(lines[i], &alone);
      EXPECT_EQ(statuses[i], st) << "seed " << seed << " line " << i << ": " << lines[i];
      if (st.ok()) {
        EXPECT_EQ(records[i].SerializeAsString(), alone.SerializeAsString())
            << "seed " << seed << " line " << i;
      } else {
        ++refused;
      }
    }
    if (seed % 4 == 0) {
      EXPECT_EQ(refused, 0);
    }
    if (seed % 2 == 1 && lines.size() > 50) {
      EXPECT_GT(refused, 0);
    }
  }
}

TEST(EventLogJsonTest, ALineCannotReachIntoAnotherWhenLinesAreJoined) {
  std::vector<std::string> good;
  for (int i = 0; i < 5; ++i) {
    good.emplace_back();
    AppendEventLogJson(v1::EVENT_KIND_INCIDENT, "G" + std::to_string(i),
                       Incident("G" + std::to_string(i), 1735689600).SerializeAsString(), 0,
                       std::nullopt, nullptr, &good.back());
  }
  // The first four would be valid JSON inside a joined array, and are refused
  // alone; the others are one object each: braces and quotes in a string, a
  // key given twice, a oneof given twice. A batch must give what each gives
  // alone.
  const std::vector<std::string> tricks = {
      good[0] + "," + good[1],                  // two elements from one line
      good[0] + R"(],"lines":[)" + good[1],     // closes the array, opens another
      good[0] + R"(]}, {"lines":[)" + good[1],  // closes the whole message
      R"({"key":""},{"key":"x","rawValue":"","kind":"EVENT_KIND_INCIDENT"})",
      R"({"key":"\"},{\"key\":\"x","rawValue":"","kind":"EVENT_KIND_INCIDENT"})",
      R"({"key":"a","key":"b","rawValue":"AAE=","kind":"EVENT_KIND_INCIDENT"})",
      R"({"incident":{"id":"X"},"rawValue":"AAE="})",
  };
  for (const std::string& trick : tricks) {
    std::vector<std::string> lines = {good[2], trick, good[3], good[4]};
    std::vector<std::string_view> views(lines.begin(), lines.end());
    std::vector<v1::LoggedRecord> records;
    std::vector<absl::Status> statuses;
    ParseEventLogJsonLines(views, &records, &statuses);
    for (size_t i = 0; i < lines.size(); ++i) {
      v1::LoggedRecord alone;
      const absl::Status st = ParseEventLogJson(lines[i], &alone);
      EXPECT_EQ(statuses[i], st) << trick << " line " << i;
      if (st.ok()) {
        EXPECT_EQ(records[i].SerializeAsString(), alone.SerializeAsString()) << trick;
      }
    }
  }
}

TEST(EventLogReaderTest, JsonLinesReadAheadKeepTheirLineNumbersAndErrorsInOrder) {
  // 1,000 lines: batches of 256 lines, refusals among them and at batch edges.
  std::vector<std::string> lines = MixedJsonLines(1000, 99);
  lines[255] = "{";
  lines[256] = "not json";
  lines[511] = "";  // blank: skipped, but counted as a line
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  const std::string path = TempPath("readahead.jsonl");
  WriteFile(path, text);
  std::vector<std::string> want_rejects;
  std::vector<std::string> want_keys;
  std::vector<int64_t> want_lines;
  std::string first_error;  // as the reader says it without a RejectSink
  int64_t first_bad = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t") == std::string::npos) continue;
    v1::LoggedRecord alone;
    absl::Status st = ParseEventLogJson(lines[i], &alone);
    if (st.ok()) {
      want_keys.push_back(alone.key());
      want_lines.push_back(static_cast<int64_t>(i) + 1);
    } else {
      want_rejects.push_back("line " + std::to_string(i + 1) + ": " + std::string(st.message()));
      if (first_bad == 0) {
        first_bad = static_cast<int64_t>(i) + 1;
        first_error = path + ":" + std::to_string(i + 1) + ": " + std::string(st.message());
      }
    }
  }
  ASSERT_GT(want_rejects.size(), 10u);

  Rejects rejects;
  EventLogReaderOptions options;
  options.rejects = &rejects;
  absl::StatusOr<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, options);
  ASSERT_TRUE(r.ok()) << r.status();
  SourceRecord rec;
  std::vector<std::string> keys;
  std::vector<int64_t> numbers;
  while (true) {
    absl::StatusOr<bool> more = (*r)->Next(&rec);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    keys.push_back(std::string(rec.key));
    numbers.push_back((*r)->Position().number);
  }
  EXPECT_EQ(keys, want_keys);
  EXPECT_EQ(numbers, want_lines);
  EXPECT_EQ(rejects.lines, want_rejects);
  EXPECT_EQ((*r)->rejected(), static_cast<int64_t>(want_rejects.size()));

  // Without a RejectSink the first bad line is the error, after every record before it.
  r = EventLogReader::Open(path, {});
  ASSERT_TRUE(r.ok()) << r.status();
  size_t before = 0;
  absl::StatusOr<bool> more;
  while ((more = (*r)->Next(&rec)).ok() && *more) ++before;
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(std::string(more.status().message()), first_error);
  EXPECT_EQ(before, static_cast<size_t>(std::count_if(want_lines.begin(), want_lines.end(),
                                                      [&](int64_t n) { return n < first_bad; })));
}

TEST(EventLogReaderTest, AnOverlongJsonLineIsAnErrorAfterTheLinesBeforeIt) {
  std::string lines;
  for (int i = 0; i < 10; ++i) {
    std::string line;
    AppendEventLogJson(v1::EVENT_KIND_INCIDENT, "K" + std::to_string(i),
                       Incident("K" + std::to_string(i), 1735689600).SerializeAsString(), 0,
                       std::nullopt, nullptr, &line);
    lines += line + "\n";
  }
  // Longer than the limit and than the reader's first buffer (1 MiB), and
  // longer than the limit but inside the first buffer: the same error.
  const std::pair<size_t, size_t> cases[] = {{3 << 20, 1 << 20}, {4097, 4096}};
  for (const auto& [length, limit] : cases) {
    const std::string path = TempPath("overlong.jsonl");
    WriteFile(path, lines + std::string(length, 'x') + "\n");
    EventLogReaderOptions options;
    options.max_record_bytes = limit;
    absl::StatusOr<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, options);
    ASSERT_TRUE(r.ok()) << r.status();
    SourceRecord rec;
    int records = 0;
    absl::StatusOr<bool> more;
    while ((more = (*r)->Next(&rec)).ok() && *more) ++records;
    EXPECT_EQ(records, 10) << "limit " << limit;
    ASSERT_FALSE(more.ok()) << "limit " << limit;
    EXPECT_THAT(std::string(more.status().message()),
                HasSubstr(":11: line longer than " + std::to_string(limit) + " bytes"));
  }
  // A line of exactly the limit is read (and refused as JSON, not as too long).
  const std::string path = TempPath("at_limit.jsonl");
  WriteFile(path, std::string(4096, 'x') + "\n");
  EventLogReaderOptions options;
  options.max_record_bytes = 4096;
  Rejects rejects;
  options.rejects = &rejects;
  absl::StatusOr<std::unique_ptr<EventLogReader>> r = EventLogReader::Open(path, options);
  ASSERT_TRUE(r.ok()) << r.status();
  SourceRecord rec;
  absl::StatusOr<bool> more = (*r)->Next(&rec);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_EQ(rejects.lines.size(), 1u);
}

// ---- CSV parsing --------------------------------------------------------

TEST(CsvReaderTest, QuotesEmbeddedDelimitersNewlinesAndCrlf) {
  const std::string path = TempPath("quoted.csv");
  WriteFile(path, "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n2,\"two\nlines\",\r\n3,z,end");
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(path, {});
  ASSERT_TRUE(r.ok());
  CsvRow row;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;
  while (*(*r)->Next(&row)) {
    rows.emplace_back(row.fields.begin(), row.fields.end());
    lines.push_back(row.line);
  }
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"2", "two\nlines", ""}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"3", "z", "end"}));
  EXPECT_THAT(lines, ::testing::ElementsAre(1, 2, 4, 6));
}

// ---- mappings -----------------------------------------------------------

struct Replayed {
  std::unique_ptr<CountStore> store;
  Rejects rejects;
  int64_t records = 0;
};

void Replay(const std::string& mapping_path, const std::string& csv_path, Replayed* out,
            absl::Status* open_error = nullptr) {
  absl::StatusOr<CsvMapping> m = CsvMapping::LoadFile(mapping_path, Regions());
  ASSERT_TRUE(m.ok()) << m.status();
  absl::StatusOr<std::unique_ptr<CsvEventSource>> src =
      CsvEventSource::Open(csv_path, *m, &out->rejects);
  if (!src.ok()) {
    ASSERT_NE(open_error, nullptr) << src.status();
    *open_error = src.status();
    return;
  }
  Replayer replay(Regions(), ReplayOptions{});
  SourceRecord rec;
  while (true) {
    absl::StatusOr<bool> more = (*src)->Next(&rec);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    ++out->records;
    const ProcessResult& r = replay.Process(rec);
    EXPECT_NE(r.outcome, Outcome::kRejected) << (*src)->Where() << ": " << r.detail;
  }
  out->store = std::make_unique<CountStore>(Regions());
  ASSERT_TRUE(replay.PublishTo(*out->store).ok());
}

int64_t Sum2025(const CountStore& s, Metric m, const char* region) {
  return s.Sum(m, region, absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 9, 1));
}
int64_t Sum2024(const CountStore& s, Metric m, const char* region) {
  return s.Sum(m, region, absl::CivilDay(2024, 1, 1), absl::CivilDay(2024, 9, 1));
}

std::string Mappings() { return std::string(kSource) + "/deploy/config/mappings/"; }

TEST(CsvMappingTest, CityAccidentsSampleMatchesHandCount) {
  Replayed r;
  Replay(Mappings() + "city-accidents.toml", Mappings() + "city-accidents.sample.csv", &r);
  const CountStore& s = *r.store;
  // Hand count of city-accidents.sample.csv (one accident per row):
  //   2025  A001 371602 ordinary, injured 2, E3
  //         A002 371602 ordinary, killed 1, BAC 85 (alcohol)
  //         A003 371603 ordinary, injured 1, E4 (BAC blank: no alcohol)
  //         A004 371621 video, nothing hurt          -> minor, video
  //         A005 blank district -> 371602, injured 1, BAC 999 = unknown
  //         A006 371625 ordinary, killed 2, injured 3, E3, BAC 120
  //         A007 371681 simple, injured 1            -> minor
  //   2024  A008 371602 ordinary, killed 1, injured 2, E3
  //         A009 371603 ordinary, injured 3, BAC 30
  //         A010 district 99 = unknown -> 371602, injured 1
  //   rejected: A011 (month 13), A012 (阳光区 not mapped), A013 (killed "x"), no id.
  // | 2025          | accidents | deaths | injuries | e3e4 acc | e3e4 inj | alcohol acc | video | minor |
  // | 371602 滨城区 |     3     |   1    |    3     |    1     |    2     |     1       |   0   |   0   |
  // | 371603 沾化区 |     1     |   0    |    1     |    1     |    1     |     0       |   0   |   0   |
  // | 371621 惠民县 |     0     |   0    |    0     |    0     |    0     |     0       |   1   |   1   |
  // | 371625 博兴县 |     1     |   2    |    3     |    1     |    3     |     1       |   0   |   0   |
  // | 371681 邹平市 |     0     |   0    |    1     |    0     |    0     |     0       |   0   |   1   |
  // | 371600 city   |     5     |   3    |    8     |    3     |    6     |     2       |   1   |   2   |
  // | 2024 city     |     3     |   1    |    6     |    1     |    2     |     1       |   0   |   0   |
  EXPECT_EQ(r.records, 10);
  EXPECT_EQ(Sum2025(s, Metric::kAccidents, "371602"), 3);
  EXPECT_EQ(Sum2025(s, Metric::kDeaths, "371602"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kInjuries, "371602"), 3);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Accidents, "371602"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kAlcoholAccidents, "371602"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kAccidents, "371603"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Injuries, "371603"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kVideoHandled, "371621"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kAccidents, "371621"), 0);
  EXPECT_EQ(Sum2025(s, Metric::kDeaths, "371625"), 2);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Injuries, "371625"), 3);
  EXPECT_EQ(Sum2025(s, Metric::kInjuries, "371681"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kMinorAccidents, "371681"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kAccidents, "371600"), 5);
  EXPECT_EQ(Sum2025(s, Metric::kDeaths, "371600"), 3);
  EXPECT_EQ(Sum2025(s, Metric::kInjuries, "371600"), 8);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Accidents, "371600"), 3);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Injuries, "371600"), 6);
  EXPECT_EQ(Sum2025(s, Metric::kAlcoholAccidents, "371600"), 2);
  EXPECT_EQ(Sum2025(s, Metric::kVideoHandled, "371600"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kMinorAccidents, "371600"), 2);
  EXPECT_EQ(Sum2024(s, Metric::kAccidents, "371600"), 3);
  EXPECT_EQ(Sum2024(s, Metric::kDeaths, "371600"), 1);
  EXPECT_EQ(Sum2024(s, Metric::kInjuries, "371600"), 6);
  EXPECT_EQ(Sum2024(s, Metric::kE3E4Accidents, "371600"), 1);
  EXPECT_EQ(Sum2024(s, Metric::kAlcoholAccidents, "371600"), 1);
  EXPECT_EQ(Sum2024(s, Metric::kAccidents, "371602"), 2);
  // The rejects, with their physical lines (A005 spans lines 6-7).
  ASSERT_EQ(r.rejects.lines.size(), 4u);
  EXPECT_THAT(r.rejects.lines[0],
              HasSubstr("line 13: occurred \"2025-13-01 08:00\": no such date or time"));
  EXPECT_THAT(r.rejects.lines[1], HasSubstr("line 14: district \"阳光区\" is not in [region.map]"));
  EXPECT_THAT(r.rejects.lines[2], HasSubstr("line 15: killed \"x\" is not a whole number"));
  EXPECT_THAT(r.rejects.lines[3], HasSubstr("line 16: no accident id"));
}

// [road]: a column mapped to Location.road_class; township_village roads
// count in rural_accidents (ordinary accidents only).
TEST(CsvMappingTest, RoadColumnSetsTheRoadClassAndRuralAccidents) {
  const std::string mapping = TempPath("road.toml");
  WriteFile(mapping, ReadFile(Mappings() + "city-accidents.toml") + R"(
[road]
default = "other"
[[road.when]]
value = "township_village"
column = "road"
in = ["村道", "乡道"]
[[road.when]]
value = "national"
column = "road"
equals = "国道"
)");
  const std::string csv = TempPath("road.csv");
  WriteFile(csv,
            "accident_no,occurred,district,killed,injured,procedure,vehicle1,vehicle2,bac_mg,"
            "road\n"
            "R1,2025-01-05 08:15,滨城区,0,1,一般,CAR,,0,村道\n"  // rural
            "R2,2025-01-06 09:00,滨城区,0,1,一般,CAR,,0,乡道\n"  // rural
            "R3,2025-01-07 10:00,沾化区,0,1,一般,CAR,,0,国道\n"  // national
            "R4,2025-01-08 11:00,沾化区,0,0,视频,CAR,,0,村道\n"  // minor: not counted
            "R5,2025-01-09 12:00,惠民县,0,1,一般,CAR,,0,\n");    // blank: other
  Replayed r;
  Replay(mapping, csv, &r);
  ASSERT_NE(r.store, nullptr);
  EXPECT_EQ(r.records, 5);
  EXPECT_EQ(Sum2025(*r.store, Metric::kAccidents, "371600"), 4);
  EXPECT_EQ(Sum2025(*r.store, Metric::kRuralAccidents, "371600"), 2);
  EXPECT_EQ(Sum2025(*r.store, Metric::kRuralAccidents, "371602"), 2);
  EXPECT_EQ(Sum2025(*r.store, Metric::kRuralAccidents, "371603"), 0);
  // An unknown road class name is refused, naming where.
  WriteFile(mapping,
            ReadFile(Mappings() + "city-accidents.toml") + "[road]\ndefault = \"village\"\n");
  absl::StatusOr<CsvMapping> bad = CsvMapping::LoadFile(mapping, Regions());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              AllOf(HasSubstr("[road].default"), HasSubstr("village")));
}

TEST(CsvMappingTest, CasualtyRowsSampleMatchesHandCount) {
  Replayed r;
  Replay(Mappings() + "casualty-rows.toml", Mappings() + "casualty-rows.sample.csv", &r);
  const CountStore& s = *r.store;
  // Hand count of casualty-rows.sample.csv (one row per casualty; severity
  // 1 = killed, 2/3 = injured, 9 = unknown; type 31 = E3, 32 = E4):
  //   2025  B1 371602: 2 injured (one an E3 rider)         -> 1 accident, 2 injuries, E3
  //         B2 371622: 1 killed + 1 injured, drink Y, hour 99 -> noon
  //         B3 blank county -> 371621: 1 injured, E4
  //         B4 371623: severity 9 = unknown -> an accident with nobody counted
  //   2024  B5 371602: 2 injured + 1 killed;  B6 371681: 1 injured, E3
  //   rejected: B7 (30 February), B8 (ragged), B1 again (not consecutive), B9 (hour 25).
  // | 2025   | accidents | deaths | injuries | e3e4 acc | e3e4 inj | alcohol acc |
  // | 371602 |     1     |   0    |    2     |    1     |    2     |     0       |
  // | 371622 |     1     |   1    |    1     |    0     |    0     |     1       |
  // | 371621 |     1     |   0    |    1     |    1     |    1     |     0       |
  // | 371623 |     1     |   0    |    0     |    0     |    0     |     0       |
  // | city   |     4     |   1    |    4     |    2     |    3     |     1       |
  // | 2024   |     2     |   1    |    3     |    1     |    1     |     0       |
  EXPECT_EQ(r.records, 6);
  EXPECT_EQ(Sum2025(s, Metric::kAccidents, "371602"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kInjuries, "371602"), 2);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Injuries, "371602"), 2);
  EXPECT_EQ(Sum2025(s, Metric::kDeaths, "371622"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kInjuries, "371622"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kAlcoholAccidents, "371622"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Accidents, "371621"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kAccidents, "371623"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kInjuries, "371623"), 0);
  EXPECT_EQ(Sum2025(s, Metric::kAccidents, "371600"), 4);
  EXPECT_EQ(Sum2025(s, Metric::kDeaths, "371600"), 1);
  EXPECT_EQ(Sum2025(s, Metric::kInjuries, "371600"), 4);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Accidents, "371600"), 2);
  EXPECT_EQ(Sum2025(s, Metric::kE3E4Injuries, "371600"), 3);
  EXPECT_EQ(Sum2025(s, Metric::kAlcoholAccidents, "371600"), 1);
  EXPECT_EQ(Sum2024(s, Metric::kAccidents, "371600"), 2);
  EXPECT_EQ(Sum2024(s, Metric::kDeaths, "371600"), 1);
  EXPECT_EQ(Sum2024(s, Metric::kInjuries, "371600"), 3);
  EXPECT_EQ(Sum2024(s, Metric::kE3E4Accidents, "371681"), 1);
  ASSERT_EQ(r.rejects.lines.size(), 4u);
  EXPECT_THAT(r.rejects.lines[0], HasSubstr("line 12: no such date or time: 2025-02-30"));
  EXPECT_THAT(r.rejects.lines[1], HasSubstr("line 13: ragged row: 7 fields, the header has 9"));
  EXPECT_THAT(r.rejects.lines[2], HasSubstr("line 14: accident B1 already ended"));
  EXPECT_THAT(r.rejects.lines[3], HasSubstr("line 15: Hour \"25\" is not an hour 0-23"));
}

TEST(CsvMappingTest, MissingColumnIsAnErrorNamingKeyAndColumn) {
  const std::string csv = TempPath("nocol.csv");
  WriteFile(csv, "accident_no,occurred,district\nA1,2025-01-01 00:00,滨城区\n");
  Replayed r;
  absl::Status error;
  Replay(Mappings() + "city-accidents.toml", csv, &r, &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(error.message()), HasSubstr("[counts].deaths names column \"killed\""));
  EXPECT_THAT(std::string(error.message()), HasSubstr("not in the header of"));
}

TEST(CsvMappingTest, BadFormatAndUnknownKeysAreErrors) {
  auto load = [](const std::string& toml) {
    return CsvMapping::LoadString(toml, "test.toml", Regions()).status();
  };
  const std::string base = "[id]\ncolumn = \"id\"\n[region]\ndefault = \"371602\"\n";
  absl::Status s = load(base + "[time]\ncolumn = \"t\"\nformat = \"%d/%m %H:%M\"\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("must contain %Y, %m and %d"));
  s = load(base + "[time]\ncolumn = \"t\"\nformat = \"%Y-%m-%d %I\"\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("unsupported directive %I"));
  s = load(base + "[time]\ncolumn = \"t\"\nformat = \"%Y-%m-%d\"\nzone = \"UTC\"\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknown key \"zone\""));
  s = load(base + "[time]\ncolumn = \"t\"\nformat = \"%Y-%m-%d\"\n[flags]\nalcohol = { column = \"a\", equal = \"1\" }\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("[flags.alcohol]: unknown key \"equal\""));
  s = load(base + "[time]\ncolumn = \"t\"\nformat = \"%Y-%m-%d\"\n[flags]\nscooter = { column = \"a\", equals = \"1\" }\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknown key \"scooter\""));
  // A float where an integer belongs (csv_mapping_fuzzer: converting 3e30 was
  // undefined behaviour, which the sanitizer build stops at).
  s = load(base + "[time]\ncolumn = \"t\"\nformat = \"%Y-%m-%d\"\ndefault_hour = 3e30\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("[time].default_hour: must be an integer 0-23"));
  EXPECT_TRUE(load(base + "[time]\ncolumn = \"t\"\nformat = \"%Y-%m-%d\"\n").ok());
}

TEST(CsvMappingTest, RowWithBadFormatInvalidUtf8OrRaggedIsRejectedAndTheRestCounts) {
  const std::string csv = TempPath("mixed.csv");
  WriteFile(
      csv,
      "accident_no,occurred,district,killed,injured,procedure,vehicle1,vehicle2,bac_mg,notes\n"
      "G1,2025-01-05 08:15,滨城区,0,1,一般,CAR,,0,\n"
      "G2,05/01/2025 08:15,滨城区,0,1,一般,CAR,,0,\n"              // wrong date format
      "G3,2025-01-05 08:15,滨城区,0,1,一般,CAR,,0,bad \xff\xfe\n"  // invalid UTF-8
      "G4,2025-01-05 08:15,滨城区,0,1\n"                           // ragged
      "G5,2025-01-06 09:00,沾化区,0,2,一般,CAR,,0,\n"
      "G6,2025-02-29 12:00,滨城区,0,1,一般,CAR,,0,\n");  // no such day
  Replayed r;
  Replay(Mappings() + "city-accidents.toml", csv, &r);
  EXPECT_EQ(r.records, 2);
  EXPECT_EQ(Sum2025(*r.store, Metric::kInjuries, "371600"), 3);
  ASSERT_EQ(r.rejects.lines.size(), 4u);
  EXPECT_THAT(r.rejects.lines[0], HasSubstr("line 3: occurred \"05/01/2025 08:15\" does not match"));
  EXPECT_THAT(r.rejects.lines[1], HasSubstr("line 4: invalid UTF-8 in field 10"));
  EXPECT_THAT(r.rejects.lines[2], HasSubstr("line 5: ragged row: 5 fields, the header has 10"));
  EXPECT_THAT(r.rejects.lines[3],
              HasSubstr("line 7: occurred \"2025-02-29 12:00\": no such date or time (as "
                        "[time].format \"%Y-%m-%d %H:%M\" reads it)"));
}

TEST(CsvMappingTest, EmptyCsvIsAnError) {
  const std::string csv = TempPath("empty.csv");
  WriteFile(csv, "");
  Replayed r;
  absl::Status error;
  Replay(Mappings() + "city-accidents.toml", csv, &r, &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(error.message()), HasSubstr("empty file"));
}


// ---- replayer threads -----------------------------------------------------

// Replayer with worker threads gives exactly what one thread gives: the same
// tally, refusals (in input order) and counts, over a mix with duplicates,
// amendments, bad bytes, records of no kind and events too late for a short
// retention horizon (so ids are swept too).
TEST(ReplayerTest, ThreadsGiveTheSameCountsTallyAndRefusals) {
  std::mt19937_64 rng(11);
  struct Input {
    v1::EventKind kind;
    std::string key;
    std::string value;
  };
  std::vector<Input> inputs;
  const int64_t start = 1735660800;  // 2025-01-01 00:00 +08:00
  for (int i = 0; i < 40000; ++i) {
    const int64_t t = start + i * 600 - static_cast<int64_t>(rng() % (90 * 86400));
    const uint64_t what = rng() % 20;
    if (what < 8) {
      v1::IncidentEvent e = Incident("A-" + std::to_string(rng() % 15000), t);
      e.set_revision(static_cast<uint32_t>(1 + rng() % 3));
      e.set_injuries(static_cast<int32_t>(rng() % 4));
      inputs.push_back({v1::EVENT_KIND_INCIDENT, e.id(), e.SerializeAsString()});
    } else if (what < 18) {
      v1::ViolationEvent e;
      e.set_id("V-" + std::to_string(rng() % 30000));
      e.mutable_occurred_at()->set_seconds(t);
      e.mutable_reported_at()->set_seconds(t + 60);
      e.mutable_location()->set_region_code(what < 12 ? "371602" : "371621");
      e.set_type(static_cast<v1::ViolationType>(3 + rng() % 4));
      inputs.push_back({v1::EVENT_KIND_VIOLATION, e.id(), e.SerializeAsString()});
    } else if (what == 18) {
      inputs.push_back({v1::EVENT_KIND_INCIDENT, "bad", std::string("\xff\xff\xff", 3)});
    } else {
      inputs.push_back({v1::EVENT_KIND_UNSPECIFIED, "none", "x"});
    }
  }
  struct Run {
    ReplayTally tally;
    std::vector<Refusal> refusals;
    std::unique_ptr<CountStore> store;
  };
  auto run = [&](int threads) {
    ReplayOptions o;
    o.threads = threads;
    o.processor.retention_horizon = absl::Hours(24 * 60);
    Replayer replay(Regions(), o);
    Run out;
    for (size_t i = 0; i < inputs.size(); ++i) {
      SourceRecord rec;
      rec.kind = inputs[i].kind;
      rec.key = inputs[i].key;
      rec.value = inputs[i].value;
      replay.Submit(rec);
      if (i % 5000 == 0) {
        for (Refusal& r : replay.TakeRefusals()) out.refusals.push_back(std::move(r));
      }
    }
    replay.Finish();
    for (Refusal& r : replay.TakeRefusals()) out.refusals.push_back(std::move(r));
    out.tally = replay.tally();
    out.store = std::make_unique<CountStore>(Regions());
    EXPECT_TRUE(replay.PublishTo(*out.store).ok());
    return out;
  };
  const Run one = run(1);
  EXPECT_GT(one.tally.totals.duplicates, 0);
  EXPECT_GT(one.tally.totals.amended, 0);
  EXPECT_GT(one.tally.rejected_by_reason[static_cast<size_t>(RejectReason::kTooLate)], 0);
  ASSERT_EQ(static_cast<int64_t>(one.refusals.size()), one.tally.totals.rejected);
  for (int threads : {2, 3}) {
    const Run many = run(threads);
    EXPECT_EQ(many.tally.totals.read, one.tally.totals.read);
    EXPECT_EQ(many.tally.totals.counted, one.tally.totals.counted);
    EXPECT_EQ(many.tally.totals.amended, one.tally.totals.amended);
    EXPECT_EQ(many.tally.totals.duplicates, one.tally.totals.duplicates);
    EXPECT_EQ(many.tally.totals.rejected, one.tally.totals.rejected);
    EXPECT_EQ(many.tally.rejected_by_reason, one.tally.rejected_by_reason);
    ASSERT_EQ(many.refusals.size(), one.refusals.size());
    for (size_t i = 0; i < one.refusals.size(); ++i) {
      EXPECT_EQ(many.refusals[i].record, one.refusals[i].record);
      EXPECT_EQ(many.refusals[i].reason, one.refusals[i].reason);
      EXPECT_EQ(many.refusals[i].detail, one.refusals[i].detail);
    }
    for (absl::CivilDay d(2024, 10, 1); d < absl::CivilDay(2025, 10, 1); ++d) {
      for (const char* region : {"371600", "371602", "371621"}) {
        ASSERT_EQ(many.store->SumAll(region, d, d + 1), one.store->SumAll(region, d, d + 1))
            << region << " " << d << " threads " << threads;
      }
    }
  }
}

// A long replay with a short retention horizon: processors settle their old
// days and the replayer sums them over partitions. The report's store then
// has every day's exact count (a hand-made table: one accident an hour, in
// time order, so nothing is too late), and holds records for the recent
// days only.
// Submits one accident an hour from 2024-01-01 00:00 +08:00 for `days` days,
// each shaped by tweak(hour, event) first, then finishes the replay.
void SubmitHourly(Replayer& replay, int days,
                  const std::function<void(int, v1::IncidentEvent&)>& tweak) {
  const int64_t start = 1704038400;
  for (int h = 0; h < days * 24; ++h) {
    v1::IncidentEvent e = Incident("A-" + std::to_string(h), start + h * 3600);
    tweak(h, e);
    const std::string value = e.SerializeAsString();
    SourceRecord rec;
    rec.kind = v1::EVENT_KIND_INCIDENT;
    rec.key = e.id();
    rec.value = value;
    replay.Submit(rec);
  }
  replay.Finish();
}

TEST(ReplayerTest, SettledDaysCountExactlyAndHoldNoRecords) {
  const int days = 200;
  for (int threads : {1, 2}) {
    ReplayOptions o;
    o.threads = threads;
    o.partitions = 4;
    o.processor.retention_horizon = absl::Hours(24 * 20);
    Replayer replay(Regions(), o);
    std::map<absl::CivilDay, int64_t> injuries;  // the table: 2 or 1 a day, alternately
    SubmitHourly(replay, days, [&](int h, v1::IncidentEvent& e) {
      e.set_injuries(1 + (h / 24) % 2);
      injuries[absl::CivilDay(2024, 1, 1) + h / 24] += e.injuries();
    });
    EXPECT_EQ(replay.tally().totals.counted, days * 24);
    CountStore store(Regions());
    ASSERT_TRUE(replay.PublishTo(store).ok());
    for (const auto& [day, n] : injuries) {
      ASSERT_EQ(store.Sum(Metric::kInjuries, "371602", day, day + 1), n) << day;
      ASSERT_EQ(store.Sum(Metric::kAccidents, "371600", day, day + 1), 24) << day;
    }
    EXPECT_EQ(store.Sum(Metric::kAccidents, "371600", absl::CivilDay(2024, 1, 1),
                        absl::CivilDay(2025, 1, 1)),
              days * 24);
    // Day records: at most the horizon, a sweep's step and today, per
    // partition; the other ~178 days are settled totals.
    EXPECT_LE(store.record_count(BucketWidth::kDay), 4u * 22u) << "threads " << threads;
  }
}

// With a day range (a report's period and its base), the replay publishes
// exactly those days, settled or kept, and nothing of the others.
TEST(ReplayerTest, ADayRangeKeepsExactlyItsDays) {
  const int days = 200;
  const absl::CivilDay first(2024, 3, 1);  // settled by the end
  const absl::CivilDay last(2024, 7, 10);  // the last 9 days are kept
  const absl::TimeZone tz = absl::FixedTimeZone(8 * 3600);
  for (int threads : {1, 2}) {
    ReplayOptions o;
    o.threads = threads;
    o.partitions = 4;
    o.processor.retention_horizon = absl::Hours(24 * 20);
    o.days_from_unix_s = absl::ToUnixSeconds(absl::FromCivil(first, tz));
    o.days_to_unix_s = absl::ToUnixSeconds(absl::FromCivil(last, tz));
    Replayer replay(Regions(), o);
    SubmitHourly(replay, days, [](int, v1::IncidentEvent&) {});
    CountStore store(Regions());
    ASSERT_TRUE(replay.PublishTo(store).ok());
    for (absl::CivilDay d(2024, 1, 1); d < absl::CivilDay(2024, 1, 1) + days; ++d) {
      ASSERT_EQ(store.Sum(Metric::kAccidents, "371600", d, d + 1), d >= first && d < last ? 24 : 0)
          << d << " threads " << threads;
    }
  }
}

// The span of the events' times covers every valid event, inside the day
// range or not, and no refused one: replay's hint when a report's period
// misses the input.
TEST(ReplayerTest, EventSpanCoversTheValidEventsWhateverTheDayRange) {
  const int days = 50;
  const int64_t start = 1704038400;  // SubmitHourly's first event
  for (int threads : {1, 2}) {
    ReplayOptions o;
    o.threads = threads;
    o.partitions = 4;
    o.days_from_unix_s = start + 10 * 86400;
    o.days_to_unix_s = start + 11 * 86400;
    Replayer replay(Regions(), o);
    EXPECT_FALSE(replay.event_span().has_value());
    // The first and the last hour are refused (negative injuries).
    SubmitHourly(replay, days, [](int h, v1::IncidentEvent& e) {
      if (h == 0 || h == days * 24 - 1) e.set_injuries(-1);
    });
    ASSERT_EQ(replay.tally().totals.rejected, 2);
    const std::optional<Replayer::EventSpan> span = replay.event_span();
    ASSERT_TRUE(span.has_value());
    EXPECT_EQ(span->earliest, absl::FromUnixSeconds(start + 3600)) << "threads " << threads;
    EXPECT_EQ(span->latest, absl::FromUnixSeconds(start + (days * 24 - 2) * 3600))
        << "threads " << threads;
  }
}

}  // namespace
}  // namespace roadpulse
