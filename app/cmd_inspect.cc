// `roadpulse inspect`: decodes records of event-log files, CSV files (with a
// mapping), or a topic, and prints them as JSON Lines, like kcat for our
// schema. Events are printed in the JSON Lines event-log format (so the
// output can be replayed); roadpulse.counts records as CountRecord JSON;
// dead letters as the refused events with their source place and reason.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/config_cli.h"
#include "app/replay_support.h"
#include "app/scenario.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "google/protobuf/util/json_util.h"
#include "ingest/csv_mapping.h"
#include "ingest/dead_letter.h"
#include "ingest/event_log_json.h"
#include "ingest/topic_reader.h"
#include "processors/region_table.h"
#include "processors/reject_reason.h"
#include "roadpulse/v1/counts.pb.h"

namespace roadpulse {
namespace {

struct InspectFlags {
  TopicReaderFlags reader;  // --bootstrap-servers, --regions, the topics, -X
  std::vector<std::string> inputs;
  std::string mapping;
  std::string input_format = "auto";
  std::string topic;
  std::string from;
  std::string to;
  bool counts = false;
  int64_t limit = -1;
  std::string dlq_topic = "roadpulse.dlq";
  std::string counts_topic = "roadpulse.counts";
  std::vector<std::string> reasons;
};

int Fail(std::string_view message) {
  fmt::print(stderr, "roadpulse inspect: {}\n", message);
  return 2;
}

void PrintCount(const TopicRecord& r, std::string* line) {
  line->clear();
  v1::CountRecord record;
  std::string json = "null";
  if (!r.null_value) {
    if (record.ParseFromArray(r.value.data(), static_cast<int>(r.value.size()))) {
      json.clear();
      (void)google::protobuf::util::MessageToJsonString(record, &json);
    } else {
      json = "\"(not a CountRecord)\"";
    }
  }
  std::string key;
  for (char c : r.key) {  // keys are ASCII; escape the JSON specials anyway
    if (c == '"' || c == '\\') key.push_back('\\');
    key.push_back(c);
  }
  *line = fmt::format(R"({{"topic":"{}","partition":{},"offset":{},"timestampUnixMs":{},"key":"{}","count":{}}})",
                      r.topic, r.partition, r.offset, r.timestamp_unix_ms, key, json);
}

int RunInspect(const InspectFlags& f) {
  const bool kafka = !f.reader.bootstrap_servers.empty();
  if (kafka == !f.inputs.empty()) return Fail("give input files, or --bootstrap-servers with --topic");
  if (kafka && f.topic.empty()) return Fail("--topic is required with --bootstrap-servers");
  const bool dlq = kafka && f.topic == f.dlq_topic;
  if (!f.reasons.empty() && !dlq) {
    return Fail(fmt::format("--reason: only for the dead-letter topic (--topic {})", f.dlq_topic));
  }
  if (absl::Status s = CheckReasonNames(f.reasons); !s.ok()) return Fail(Msg(s));
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(f.reader.regions.empty() ? DefaultRegionTablePath() : f.reader.regions);
  if (!regions.ok()) return Fail(Msg(regions.status()));
  const absl::TimeZone& tz = regions->zone();
  std::string line;
  int64_t n = 0;
  auto done = [&] { return f.limit >= 0 && n >= f.limit; };
  if (!kafka) {
    std::optional<CsvMapping> mapping;
    if (!f.mapping.empty()) {
      absl::StatusOr<CsvMapping> m = CsvMapping::LoadFile(f.mapping, *regions);
      if (!m.ok()) return Fail(Msg(m.status()));
      mapping = *std::move(m);
    }
    EventLogFormat format = EventLogFormat::kAuto;
    if (f.input_format == "delimited") format = EventLogFormat::kDelimited;
    if (f.input_format == "jsonl") format = EventLogFormat::kJsonLines;
    absl::StatusOr<std::unique_ptr<RejectFile>> rejects = RejectFile::Create("");
    int exit_code = 0;
    for (const std::string& path : f.inputs) {
      absl::StatusOr<std::unique_ptr<RecordSource>> src =
          OpenInput(path, mapping ? &*mapping : nullptr, format, rejects->get());
      if (!src.ok()) {
        fmt::print(stderr, "roadpulse inspect: {}\n", Msg(src.status()));
        exit_code = 1;
        continue;
      }
      SourceRecord rec;
      while (!done()) {
        absl::StatusOr<bool> more = (*src)->Next(&rec);
        if (!more.ok()) {
          fmt::print(stderr, "roadpulse inspect: {}\n", Msg(more.status()));
          exit_code = 1;
          break;
        }
        if (!*more) break;
        line.clear();
        AppendEventLogJson(rec.kind, rec.key, rec.value, rec.timestamp_unix_ms, std::nullopt,
                           nullptr, &line);
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stdout);
        ++n;
      }
    }
    return exit_code;
  }
  absl::StatusOr<std::unique_ptr<TopicReader>> reader =
      OpenTopics(f.reader, TopicRead{{f.topic}, f.from, f.to}, tz, /*headers=*/dlq);
  if (!reader.ok()) {
    fmt::print(stderr, "roadpulse inspect: {}\n", Msg(reader.status()));
    return TopicReaderExitCode(reader.status());
  }
  const bool counts = f.counts || f.topic == f.counts_topic;
  auto kind_of = [&](std::string_view topic) {
    return topic == f.reader.violations_topic  ? v1::EVENT_KIND_VIOLATION
           : topic == f.reader.incidents_topic ? v1::EVENT_KIND_INCIDENT
                                               : v1::EVENT_KIND_UNSPECIFIED;
  };
  const v1::EventKind kind = kind_of(f.topic);
  static const absl::Status kLimit = absl::CancelledError("limit");
  absl::Status st = (*reader)->ReadAll([&](const TopicRecord& r) {
    if (done()) return kLimit;
    std::optional<DeadLetterRecord> dead_letter = dlq ? ReadDeadLetter(r) : std::nullopt;
    if (!f.reasons.empty() &&
        (!dead_letter || std::find(f.reasons.begin(), f.reasons.end(),
                                   dead_letter->dead_letter.reason()) == f.reasons.end())) {
      return absl::OkStatus();
    }
    if (counts) {
      PrintCount(r, &line);
    } else if (dead_letter) {
      // The refused record as it was on its source topic, and why.
      line.clear();
      std::optional<KafkaPosition> source = dead_letter->source;
      AppendEventLogJson(
          source ? kind_of(source->topic) : v1::EVENT_KIND_UNSPECIFIED, r.key, r.value,
          r.timestamp_unix_ms,
          source ? source : KafkaPosition{std::string(r.topic), r.partition, r.offset},
          &dead_letter->dead_letter, &line);
    } else {
      line.clear();
      AppendEventLogJson(kind, r.key, r.value, r.timestamp_unix_ms,
                         KafkaPosition{std::string(r.topic), r.partition, r.offset}, nullptr,
                         &line);
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
    ++n;
    return absl::OkStatus();
  });
  if (!st.ok() && !absl::IsCancelled(st)) {
    fmt::print(stderr, "roadpulse inspect: {}\n", Msg(st));
    return 1;  // the cluster failed while reading
  }
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Print the records of event-log files, CSV files (with --mapping) or a topic as JSON\n"
      "Lines, like kcat for roadpulse's schema. Events come out in the JSON Lines event-log\n"
      "format (replayable); roadpulse.counts records (or --counts) as CountRecord JSON;\n"
      "dead letters (roadpulse.dlq) as the refused events, with their source topic,\n"
      "partition and offset, and a \"deadLetter\" field giving the reason and detail.");
  cmd->add_option("INPUT", flags->inputs, "Event-log or CSV files");
  cmd->add_option("--mapping", flags->mapping, "CSV mapping (TOML): every INPUT is a CSV file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--input-format", flags->input_format, "auto, delimited, jsonl")
      ->check(CLI::IsMember({"auto", "delimited", "jsonl"}))
      ->capture_default_str();
  auto cli = std::make_shared<ConfigCli>();
  AddTopicReaderOptions(cmd, cli.get(), &flags->reader,
                        "Read a topic instead of files (or kafka.\"bootstrap.servers\" in the "
                        "configuration, when no file is given)");
  cmd->add_option("--topic", flags->topic, "Topic to read");
  cmd->add_option("--from", flags->from, "Kafka: first record time (YYYY-MM-DD, RFC 3339, Unix ms)");
  cmd->add_option("--to", flags->to, "Kafka: record time to stop before");
  cmd->add_flag("--counts", flags->counts, "The topic holds CountRecords (implied for roadpulse.counts)");
  cmd->add_option("--limit", flags->limit, "Print at most N records");
  cli->Bind(cmd->add_option("--dlq-topic", flags->dlq_topic,
                            "Dead-letter topic: its records are printed with their reason and "
                            "source")
                ->capture_default_str(),
            "topics.dlq");
  cmd->add_option("--reason", flags->reasons,
                  "Dead-letter topic: only the records refused for this reason (repeatable; "
                  "e.g. unknown_region)");
  cmd->callback([flags, cli, exit_code] {
    absl::StatusOr<Config> config =
        LoadTopicReaderConfig(*cli, flags->inputs.empty(), "inspect", &flags->reader);
    if (!config.ok()) {
      *exit_code = Fail(Msg(config.status()));
      return;
    }
    flags->dlq_topic = config->GetString("topics.dlq");
    flags->counts_topic = config->GetString("topics.counts");
    *exit_code = RunInspect(*flags);
  });
}

}  // namespace roadpulse
