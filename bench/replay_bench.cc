// replay_bench: replay speed from local files, printed as numbers.
//
//   build-*/bench/replay_bench [--small N] [--large N] [--dir DIR] [--threads T]
//
// It writes synthetic inputs of two sizes (unique events across Binzhou's
// counties over 2024-2025; 1 accident : 4 violations), then, each in a fresh
// child process (so peak RSS is per run):
//  - length-delimited LoggedRecord: decode only (EventLogReader), and the full
//    replay (reader + the worker's PartitionProcessors + the count store) on
//    one thread and with Replayer's T worker threads (default 2; the reading
//    thread comes on top; the counts are the same, see ingest/replayer.h);
//  - CSV through deploy/config/mappings/city-accidents.toml: rows mapped
//    (CsvEventSource), and the full replay, likewise;
//  - JSON Lines (EventLogLine, what `inspect` and `export X.jsonl` write) of a
//    tenth as many events: decode only, and the full replay on one thread
//    (protobuf's JSON parser is the cost, ~40 times the binary format's).
// Rates are records per second of wall-clock time.
// For each: records/s and the child's peak RSS. Reader memory should not
// depend on the file size; a full replay's also holds the processors' state
// (buckets and the dedup ids within the retention horizon).
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>

#include "fmt/format.h"
#include "ingest/csv_mapping.h"
#include "ingest/event_log_reader.h"
#include "ingest/event_log_writer.h"
#include "ingest/replayer.h"
#include "processors/count_store.h"
#include "processors/region_table.h"

namespace roadpulse {
namespace {

const char* kCounties[] = {"371602", "371603", "371621", "371622", "371623", "371625", "371681"};
constexpr int64_t kStart = 1704038400;  // 2024-01-01 00:00 +08:00
constexpr int64_t kSpan = 730LL * 86400;

void WriteEvents(const std::string& path, int64_t n,
                 EventLogFormat format = EventLogFormat::kDelimited) {
  EventLogWriterOptions o;
  o.format = format;
  auto w = EventLogWriter::Create(path, o);
  if (!w.ok()) std::abort();
  std::mt19937_64 rng(42);
  v1::IncidentEvent inc;
  v1::ViolationEvent vio;
  std::string value;
  for (int64_t i = 0; i < n; ++i) {
    // In time order, like an archive: occurred_at grows with i.
    const int64_t t = kStart + kSpan * i / n + static_cast<int64_t>(rng() % 600);
    const std::string id = fmt::format("E{:09d}", i);
    const char* county = kCounties[rng() % 7];
    v1::EventKind kind;
    if (i % 5 == 0) {
      inc.Clear();
      inc.set_id(id);
      inc.set_revision(1);
      inc.mutable_occurred_at()->set_seconds(t);
      inc.mutable_reported_at()->set_seconds(t + 900);
      inc.mutable_location()->set_region_code(county);
      inc.set_injuries(static_cast<int32_t>(rng() % 3));
      inc.set_severity(v1::SEVERITY_GENERAL);
      inc.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
      inc.add_vehicles(v1::VEHICLE_CATEGORY_CAR);
      inc.SerializeToString(&value);
      kind = v1::EVENT_KIND_INCIDENT;
    } else {
      vio.Clear();
      vio.set_id(id);
      vio.mutable_occurred_at()->set_seconds(t);
      vio.mutable_reported_at()->set_seconds(t + 60);
      vio.mutable_location()->set_region_code(county);
      vio.set_type(static_cast<v1::ViolationType>(3 + rng() % 4));
      vio.set_vehicle(v1::VEHICLE_CATEGORY_CAR);
      vio.SerializeToString(&value);
      kind = v1::EVENT_KIND_VIOLATION;
    }
    if (!(*w)->Write(kind, id, value, (t + 900) * 1000).ok()) std::abort();
  }
  if (!(*w)->Close().ok()) std::abort();
}

void WriteCsv(const std::string& path, int64_t n) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) std::abort();
  static const char* kNames[] = {"滨城区", "沾化区", "惠民县", "阳信县", "无棣县", "博兴县", "邹平市"};
  std::fputs("accident_no,occurred,district,killed,injured,procedure,vehicle1,vehicle2,bac_mg,notes\n", f);
  std::mt19937_64 rng(7);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = kStart + kSpan * i / n;
    const int64_t day = t / 86400;
    // A rough civil date is enough for a benchmark: 2024/2025, months 1-12, days 1-28.
    const int year = 2024 + static_cast<int>(day % 2);
    const int month = 1 + static_cast<int>((day / 2) % 12);
    const int dom = 1 + static_cast<int>((day / 24) % 28);
    fmt::print(f, "C{:09d},{}-{:02d}-{:02d} {:02d}:{:02d},{},{},{},{},{},{},{},\"note, {}\"\n", i,
               year, month, dom, static_cast<int>(rng() % 24), static_cast<int>(rng() % 60),
               kNames[rng() % 7], 0, rng() % 3, i % 10 == 0 ? "简易" : "一般",
               i % 7 == 0 ? "E3" : "CAR", "", rng() % 100, i);
  }
  std::fclose(f);
}

struct Result {
  int64_t records = 0;
  double seconds = 0;
};

// Runs fn in a child; returns its result and peak RSS (KiB).
std::pair<Result, long> InChild(const std::function<Result()>& fn) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Result r = fn();
    if (write(fds[1], &r, sizeof(r)) != sizeof(r)) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  Result r;
  if (read(fds[0], &r, sizeof(r)) != sizeof(r)) r = Result{};
  close(fds[0]);
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  return {r, ru.ru_maxrss};
}

template <typename Open>
Result Drain(Open open, const RegionTable* regions, int threads = 1) {
  std::unique_ptr<RecordSource> src = open();
  std::unique_ptr<Replayer> replay;
  if (regions != nullptr) {
    ReplayOptions o;
    o.threads = threads;
    o.processor.minute_buckets_for = absl::ZeroDuration();
    o.processor.hour_buckets_for = absl::ZeroDuration();
    replay = std::make_unique<Replayer>(*regions, o);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Result r;
  SourceRecord rec;
  uint64_t sink = 0;
  while (true) {
    absl::StatusOr<bool> more = src->Next(&rec);
    if (!more.ok()) {
      fmt::print(stderr, "{}\n", std::string(more.status().message()));
      std::abort();
    }
    if (!*more) break;
    ++r.records;
    if (replay != nullptr) {
      // As `roadpulse replay`: Process() on one thread, Submit() with more.
      if (threads == 1) {
        replay->Process(rec);
      } else {
        replay->Submit(rec);
        // The CLI writes refusals out as it goes; here they are dropped.
        if ((r.records & 4095) == 0) (void)replay->TakeRefusals();
      }
    } else {
      sink += rec.value.size();
    }
  }
  if (replay != nullptr) {
    replay->Finish();
    (void)replay->TakeRefusals();
    CountStore store(*regions);
    (void)replay->PublishTo(store);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (sink == 1) std::puts("");
  return r;
}

}  // namespace
}  // namespace roadpulse

int main(int argc, char** argv) {
  using namespace roadpulse;
  int64_t small = 1'000'000, large = 4'000'000;
  std::string dir = "/tmp";
  int threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--small") small = std::atoll(argv[i + 1]);
    if (flag == "--large") large = std::atoll(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
  }
  const std::string src = ROADPULSE_SOURCE_DIR;
  absl::StatusOr<RegionTable> regions = RegionTable::LoadFile(src + "/deploy/config/regions/binzhou.toml");
  if (!regions.ok()) return 1;
  absl::StatusOr<CsvMapping> mapping =
      CsvMapping::LoadFile(src + "/deploy/config/mappings/city-accidents.toml", *regions);
  if (!mapping.ok()) return 1;
  const std::string pid = std::to_string(getpid());
  fmt::print("replay_bench: records/s (wall clock) and the child's peak RSS; \"{} threads\": "
             "Replayer with {} worker threads plus the reading thread\n",
             threads, threads);
  fmt::print("{:<44} {:>10} {:>10} {:>14} {:>12}\n", "input", "records", "MB", "records/s",
             "peak RSS MB");
  for (int64_t n : {small, large}) {
    const std::string pb = fmt::format("{}/replay_bench_{}_{}.pb", dir, pid, n);
    const std::string csv = fmt::format("{}/replay_bench_{}_{}.csv", dir, pid, n);
    const std::string jsonl = fmt::format("{}/replay_bench_{}_{}.jsonl", dir, pid, n);
    WriteEvents(pb, n);
    WriteCsv(csv, n / 2);
    WriteEvents(jsonl, n / 10, EventLogFormat::kJsonLines);
    auto size_mb = [](const std::string& p) {
      struct stat st;
      stat(p.c_str(), &st);
      return static_cast<double>(st.st_size) / 1e6;
    };
    auto report = [&](const std::string& what, const std::string& path,
                      const std::pair<Result, long>& r) {
      fmt::print("{:<44} {:>10} {:>10.1f} {:>14.0f} {:>12.1f}\n", what, r.first.records,
                 size_mb(path), r.first.records / r.first.seconds, r.second / 1024.0);
    };
    auto open_pb = [&] {
      return std::unique_ptr<RecordSource>(*EventLogReader::Open(pb, EventLogReaderOptions{}));
    };
    auto open_jsonl = [&] {
      return std::unique_ptr<RecordSource>(*EventLogReader::Open(jsonl, EventLogReaderOptions{}));
    };
    auto open_csv = [&] {
      return std::unique_ptr<RecordSource>(*CsvEventSource::Open(csv, *mapping, nullptr));
    };
    report("delimited protobuf: decode only", pb, InChild([&] { return Drain(open_pb, nullptr); }));
    report("delimited protobuf: full replay", pb, InChild([&] { return Drain(open_pb, &*regions); }));
    report(fmt::format("delimited protobuf: full replay, {} threads", threads), pb,
           InChild([&] { return Drain(open_pb, &*regions, threads); }));
    report("CSV (city-accidents.toml): rows mapped", csv,
           InChild([&] { return Drain(open_csv, nullptr); }));
    report("CSV (city-accidents.toml): full replay", csv,
           InChild([&] { return Drain(open_csv, &*regions); }));
    report(fmt::format("CSV (city-accidents.toml): full replay, {} thr", threads), csv,
           InChild([&] { return Drain(open_csv, &*regions, threads); }));
    report("JSON Lines: decode only", jsonl, InChild([&] { return Drain(open_jsonl, nullptr); }));
    report("JSON Lines: full replay", jsonl, InChild([&] { return Drain(open_jsonl, &*regions); }));
    std::remove(pb.c_str());
    std::remove(csv.c_str());
    std::remove(jsonl.c_str());
  }
  return 0;
}
