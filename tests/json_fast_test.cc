// The JSON Lines fast path (ingest/internal/json_fast.h) against protobuf's
// own JSON parser, the ground truth: whatever line the fast path accepts,
// protobuf must accept and turn into the same message, byte for byte. Lines
// come from the production writer (AppendEventLogJson) over random events
// with edge values, from random mutations of those lines, and from a table of
// hand-written cases.
#include "ingest/internal/json_fast.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "ingest/event_log_json.h"
#include "roadpulse/v1/event_log.pb.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {
namespace {

using ingest_internal::FastJsonParser;

class RandomLines {
 public:
  // `edges`: also enum numbers the schema lacks (written as numbers), zero
  // and negative-zero doubles, values that are not events.
  RandomLines(uint64_t seed, bool edges) : rng_(seed), edges_(edges) {}

  // One JSON line as `export`/`inspect` write it.
  std::string Next() {
    const bool incident = Chance(0.5);
    std::string value;
    if (edges_ && Chance(0.03)) {
      value = Bytes();  // not an event: written as rawValue
    } else if (incident) {
      value = Incident().SerializeAsString();
    } else {
      value = Violation().SerializeAsString();
    }
    std::optional<KafkaPosition> position;
    if (Chance(0.5)) {
      position = KafkaPosition{"roadpulse.incidents", Int<int32_t>(), Int<int64_t>()};
    }
    v1::DeadLetter dead_letter;
    if (Chance(0.1)) {
      dead_letter.set_reason(Text());
      dead_letter.set_detail(Text());
      dead_letter.set_topic("roadpulse.dlq");
      if (Chance(0.5)) dead_letter.set_partition(Int<int32_t>());
      if (Chance(0.5)) dead_letter.set_offset(Int<int64_t>());
    }
    std::string line;
    AppendEventLogJson(incident ? v1::EVENT_KIND_INCIDENT : v1::EVENT_KIND_VIOLATION,
                       Chance(0.05) ? Bytes() : Text(), value, Int<int64_t>(), position,
                       dead_letter.reason().empty() ? nullptr : &dead_letter, &line);
    return line;
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  template <typename T>
  T Int() {
    const double p = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (p < 0.1) return std::numeric_limits<T>::min();
    if (p < 0.2) return std::numeric_limits<T>::max();
    if (p < 0.3) return 0;
    if (p < 0.6) return static_cast<T>(std::uniform_int_distribution<int>(-5, 1000)(rng_));
    return static_cast<T>(rng_());
  }

  double Double() {
    if (!edges_) return std::uniform_real_distribution<double>(-180, 180)(rng_) + 1e-9;
    switch (std::uniform_int_distribution<int>(0, 6)(rng_)) {
      case 0:
        return 0.0;
      case 1:
        return -0.0;
      case 2:
        return std::numeric_limits<double>::max();
      case 3:
        return std::numeric_limits<double>::denorm_min();
      case 4:
        return std::uniform_real_distribution<double>(36, 38)(rng_);
      default: {
        uint64_t bits = rng_();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return std::isfinite(d) ? d : 1.5;
      }
    }
  }

  std::string Text() {
    static const char* const kPieces[] = {"A-2025-", "0001", "滨城区", "\"", "\\", "/",
                                          "\n",      "\x01", "é",      "😀",  " ",  "371602"};
    std::string s;
    const int n = std::uniform_int_distribution<int>(0, 5)(rng_);
    for (int i = 0; i < n; ++i) s += kPieces[std::uniform_int_distribution<int>(0, 11)(rng_)];
    return s;
  }

  // An enum value: one the schema has, or with `edges` up to two past the last.
  int Enum(int last) {
    return std::uniform_int_distribution<int>(0, last + (edges_ ? 2 : 0))(rng_);
  }

  std::string Bytes() {
    std::string s(std::uniform_int_distribution<int>(0, 12)(rng_), '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }

  void Time(google::protobuf::Timestamp* t) {
    // 0001-01-01 .. 9999-12-31, with 0, 3, 6 or 9 digits of fraction.
    t->set_seconds(std::uniform_int_distribution<int64_t>(-62135596800, 253402300799)(rng_));
    static const int kScale[] = {0, 1000000, 1000, 1};
    const int scale = kScale[std::uniform_int_distribution<int>(0, 3)(rng_)];
    t->set_nanos(
        scale == 0 ? 0 : std::uniform_int_distribution<int>(0, 999999999 / scale)(rng_) * scale);
  }

  void Place(v1::Location* l) {
    l->set_region_code(Text());
    if (Chance(0.5)) l->set_township_code(Text());
    l->set_road_class(static_cast<v1::RoadClass>(Enum(7)));
    if (Chance(0.5)) l->set_main_urban(Chance(0.5));
    if (Chance(0.7)) l->set_latitude(Double());
    if (Chance(0.7)) l->set_longitude(Double());
  }

  v1::IncidentEvent Incident() {
    v1::IncidentEvent e;
    e.set_id(Text());
    e.set_revision(Int<uint32_t>());
    if (Chance(0.9)) Time(e.mutable_occurred_at());
    if (Chance(0.9)) Time(e.mutable_reported_at());
    if (Chance(0.9)) Place(e.mutable_location());
    e.set_deaths(Int<int32_t>());
    e.set_injuries(Int<int32_t>());
    e.set_severity(static_cast<v1::Severity>(Enum(4)));
    e.set_handling(static_cast<v1::Handling>(Enum(4)));
    const int n = std::uniform_int_distribution<int>(0, 3)(rng_);
    for (int i = 0; i < n; ++i) {
      e.add_vehicles(static_cast<v1::VehicleCategory>(Enum(11)));
    }
    e.set_alcohol_involved(Chance(0.3));
    e.set_property_loss_yuan(Int<int64_t>());
    return e;
  }

  v1::ViolationEvent Violation() {
    v1::ViolationEvent e;
    e.set_id(Text());
    if (Chance(0.9)) Time(e.mutable_occurred_at());
    if (Chance(0.9)) Time(e.mutable_reported_at());
    if (Chance(0.9)) Place(e.mutable_location());
    e.set_type(static_cast<v1::ViolationType>(Enum(8)));
    if (Chance(0.5)) e.set_blood_alcohol_mg_100ml(Double());
    e.set_vehicle(static_cast<v1::VehicleCategory>(Enum(11)));
    return e;
  }

  std::mt19937_64 rng_;
  bool edges_;
};

// What protobuf's parser makes of `json` (as ParseEventLogJson asks it), or
// nullopt when it refuses it.
std::optional<std::string> Protobuf(const std::string& json) {
  v1::EventLogLine line;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(json, &line, options).ok()) return std::nullopt;
  return line.SerializeAsString();
}

// Checks the contract on `json`; returns whether the fast path took it.
bool Agrees(FastJsonParser& fast, const std::string& json) {
  v1::EventLogLine line;
  if (!fast.Parse(json, &line)) return false;
  const std::optional<std::string> truth = Protobuf(json);
  EXPECT_TRUE(truth.has_value()) << "fast path accepted what protobuf refuses: " << json;
  if (truth.has_value()) {
    EXPECT_EQ(line.SerializeAsString(), *truth) << json;
  }
  return true;
}

TEST(JsonFastTest, WriterLinesParseAsProtobufParsesThem) {
  FastJsonParser fast;
  const int n = 20000;
  // Events as producers send them: the fast path takes every line.
  RandomLines plain(20261206, /*edges=*/false);
  int taken = 0;
  for (int i = 0; i < n; ++i) taken += Agrees(fast, plain.Next()) ? 1 : 0;
  EXPECT_EQ(taken, n);
  // With edge values some lines are left to protobuf (an enum number the
  // schema lacks, a zero double that is written out); the rest agree.
  RandomLines edges(20261207, /*edges=*/true);
  int taken_edges = 0;
  for (int i = 0; i < n; ++i) taken_edges += Agrees(fast, edges.Next()) ? 1 : 0;
  std::printf("fast path took %d of %d plain writer lines, %d of %d with edge values\n", taken, n,
              taken_edges, n);
  EXPECT_GT(taken_edges, 0);
}

TEST(JsonFastTest, MutatedLinesNeverParseDifferently) {
  RandomLines plain(7, /*edges=*/false);
  RandomLines edges(8, /*edges=*/true);
  std::vector<std::string> base;
  for (int i = 0; i < 100; ++i) base.push_back(plain.Next());
  for (int i = 0; i < 100; ++i) base.push_back(edges.Next());
  static const std::vector<std::string> kSnippets = {"null",
                                                     "-0",
                                                     "0",
                                                     "1e2",
                                                     "1.0",
                                                     "\"007\"",
                                                     "\"-0\"",
                                                     "true",
                                                     "\"\\ud800\"",
                                                     "[]",
                                                     "{}",
                                                     "\"\"",
                                                     "\"AAA=\"",
                                                     "\"YQ\"",
                                                     "\"+1\"",
                                                     ",",
                                                     ":",
                                                     "\"occurred_at\"",
                                                     "\"kind\":1,",
                                                     "\"x\":1,",
                                                     "\"2025-02-29T00:00:00Z\"",
                                                     "\"2024-02-29T23:59:60Z\"",
                                                     "\"2025-03-01T10:00:00.5Z\"",
                                                     "\"2025-03-01T10:00:00+08:00\"",
                                                     "4294967296",
                                                     "-2147483649",
                                                     "9223372036854775808",
                                                     "\"EVENT_KIND_INCIDENT\"",
                                                     "\"SEVERITY_MINOR\"",
                                                     "1.7976931348623157e308"};
  std::mt19937_64 rng(42);
  FastJsonParser fast;
  int taken = 0;
  int protobuf_ok = 0;
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    std::string s = base[rng() % base.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      const size_t at = rng() % s.size();
      switch (rng() % 5) {
        case 0:
          s.erase(at, 1 + rng() % 4);
          break;
        case 1:
          s.insert(at, kSnippets[rng() % kSnippets.size()]);
          break;
        case 2: {  // a value replaced: from after a ':' to the next ',' or '}'
          const size_t colon = s.find(':', at);
          if (colon == std::string::npos) break;
          const size_t end = s.find_first_of(",}", colon + 1);
          if (end == std::string::npos) break;
          s.replace(colon + 1, end - colon - 1, kSnippets[rng() % kSnippets.size()]);
          break;
        }
        case 3: {  // a member given twice
          const size_t comma = s.find(',', at);
          if (comma == std::string::npos) break;
          const size_t next = s.find(',', comma + 1);
          if (next == std::string::npos) break;
          s.insert(comma, s.substr(comma, next - comma));
          break;
        }
        default:
          s[at] = static_cast<char>(rng());
          break;
      }
    }
    taken += Agrees(fast, s) ? 1 : 0;
    protobuf_ok += Protobuf(s).has_value() ? 1 : 0;
  }
  std::printf("mutated lines: fast path took %d, protobuf accepted %d, of %d\n", taken, protobuf_ok,
              n);
  EXPECT_GT(taken, 0);
}

TEST(JsonFastTest, HandWrittenCases) {
  struct Case {
    std::string json;
    bool fast;  // whether the fast path takes it (it must then agree with protobuf)
  };
  const std::vector<Case> cases = {
      {R"({"kind":"EVENT_KIND_INCIDENT","incident":{"id":"A-1","revision":2}})", true},
      // The proto field names as well as the JSON names.
      {R"({"kind":"EVENT_KIND_INCIDENT","incident":{"id":"A-1","occurred_at":"2025-03-01T10:00:00Z"}})",
       true},
      {R"({"incident":{"id":"A-1","propertyLossYuan":"-9223372036854775808"}})", true},
      {R"({"incident":{"id":"A-1","propertyLossYuan":12}})", true},
      {R"({"incident":{"revision":"4294967295"}})", true},
      {R"({"incident":{"location":{},"vehicles":[]}})", true},
      {R"({"incident":{"location":{"mainUrban":false}}})", true},
      {R"({"incident":{"occurredAt":"2024-02-29T23:59:59.123456789Z"}})", true},
      {R"({"rawValue":"YWJj","rawKey":"AP8="})", true},
      {R"({"violation":{"bloodAlcoholMg100ml":85.5}})", true},
      {R"({"incident":{"id":"\u6ee8\"\\"}})", true},
      // Left to protobuf.
      {R"({"incident":{"deaths":1.0}})", false},
      {R"({"incident":{"deaths":"01"}})", false},
      {R"({"incident":{"revision":-1}})", false},
      {R"({"incident":{"revision":4294967296}})", false},
      {R"({"incident":{"location":{"latitude":0}}})", false},
      {R"({"incident":{"location":{"latitude":-0.0}}})", false},
      {R"({"violation":{"bloodAlcoholMg100ml":"85.5"}})", false},
      {R"({"incident":{"occurredAt":"2025-03-01T10:00:00+08:00"}})", false},
      {R"({"incident":{"occurredAt":"2025-02-29T10:00:00Z"}})", false},
      {R"({"incident":{"occurredAt":"2025-03-01T10:00:00.5Z"}})", false},
      {R"({"incident":{"occurredAt":"0000-12-31T10:00:00Z"}})", false},
      {R"({"incident":{"severity":1}})", false},
      {R"({"incident":{"severity":"SEVERITY_NONE"}})", false},
      {R"({"incident":null})", false},
      {R"({"incident":{"id":"A"},"incident":{"id":"B"}})", false},
      {R"({"incident":{"id":"A","id":"B"}})", false},
      {R"({"incident":{"occurredAt":"2025-03-01T10:00:00Z","occurred_at":"2025-03-01T10:00:00Z"}})",
       false},
      {R"({"incident":{"id":"A"},"violation":{"id":"B"}})", false},
      {R"({"incident":{"id":"A"},"rawValue":""})", false},
      {R"({"unknown":1})", false},
      {R"({"rawValue":"YWJ"})", false},
      {R"({"rawValue":"YW-j"})", false},
      {R"({"incident":{"id":"\ud800"}})", false},
      {R"([{"incident":{}}])", false},
      {R"({"incident":{}} x)", false},
      {R"({"incident":{"vehicles":"VEHICLE_CATEGORY_CAR"}})", false},
  };
  FastJsonParser fast;
  for (const Case& c : cases) {
    EXPECT_EQ(Agrees(fast, c.json), c.fast) << c.json;
  }
}

TEST(JsonFastTest, ParseEventLogJsonGivesTheSameRecordsEitherWay) {
  // A line the fast path takes and one it leaves to protobuf, in one batch
  // and one by one: the same records and statuses in the same order.
  const std::vector<std::string> text = {
      R"({"kind":"EVENT_KIND_INCIDENT","incident":{"id":"A-1","revision":2}})",
      R"({"kind":"EVENT_KIND_INCIDENT","incident":{"id":"A-2","deaths":1.0}})",
      R"({"kind":"EVENT_KIND_INCIDENT","incident":{"id":"A-3"},"bogus":1})",
      R"({"violation":{"id":"V-1","type":"VIOLATION_TYPE_SPEEDING"}})",
  };
  const std::vector<std::string_view> lines(text.begin(), text.end());
  std::vector<v1::LoggedRecord> records;
  std::vector<absl::Status> statuses;
  ParseEventLogJsonLines(lines, &records, &statuses);
  ASSERT_EQ(records.size(), 4u);
  for (size_t i = 0; i < lines.size(); ++i) {
    v1::LoggedRecord one;
    const absl::Status s = ParseEventLogJson(lines[i], &one);
    EXPECT_EQ(s, statuses[i]) << lines[i];
    if (s.ok()) {
      EXPECT_EQ(one.SerializeAsString(), records[i].SerializeAsString()) << lines[i];
    }
  }
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_EQ(records[0].key(), "A-1");
  EXPECT_TRUE(statuses[1].ok());  // protobuf takes 1.0 for an int32
  EXPECT_EQ(records[1].key(), "A-2");
  EXPECT_FALSE(statuses[2].ok());
  EXPECT_NE(statuses[2].message().find("bogus"), absl::string_view::npos) << statuses[2];
  EXPECT_EQ(records[3].kind(), v1::EVENT_KIND_VIOLATION);
}

}  // namespace
}  // namespace roadpulse
