// `roadpulse redrive`: after a fix (the region table gained a unit, a producer
// fixed its data), re-produces the dead letters of the chosen reasons to the
// topic and partition they were refused on, with their original key, bytes
// and own headers, so that the workers count them. Duplicates are harmless:
// an event already counted counts once (by id and revision), and one still
// bad goes back to the dead-letter topic. docs/operations.md, "The
// dead-letter queue".
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "app/commands.h"
#include "app/config_cli.h"
#include "app/replay_support.h"
#include "app/scenario.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "ingest/dead_letter.h"
#include "ingest/kafka_producer.h"
#include "ingest/topic_reader.h"
#include "processors/region_table.h"
#include "processors/reject_reason.h"

namespace roadpulse {
namespace {

struct RedriveFlags {
  TopicReaderFlags reader;  // --bootstrap-servers, --regions, the topics, -X
  std::string dlq_topic = "roadpulse.dlq";
  std::vector<std::string> reasons;
  std::string from;
  std::string to;
  bool dry_run = false;
};

int Fail(std::string_view message) {
  fmt::print(stderr, "roadpulse redrive: {}\n", message);
  return 2;
}

// The record's own headers: all but the first of each name the worker wrote
// (ReadDeadLetter reads those; a record may carry its own of the same name),
// and not kRedrivenFromHeader (the caller adds its own).
KafkaHeaders OwnHeaders(const TopicRecord& r) {
  static constexpr const char* kWorkerHeaders[] = {
      kDlqReasonHeader,          kDlqDetailHeader,       kDlqSourceTopicHeader,
      kDlqSourcePartitionHeader, kDlqSourceOffsetHeader, kDlqValueOmittedHeader,
      kDlqKeyOmittedHeader};
  std::vector<bool> seen(std::size(kWorkerHeaders), false);
  KafkaHeaders own;
  for (const auto& [name, value] : r.headers) {
    bool worker = false;
    for (size_t i = 0; i < std::size(kWorkerHeaders); ++i) {
      if (!seen[i] && name == kWorkerHeaders[i]) {
        seen[i] = worker = true;
        break;
      }
    }
    if (!worker && name != kRedrivenFromHeader) {
      own.emplace_back(std::string(name), std::string(value));
    }
  }
  return own;
}

// "TOPIC[PARTITION]@OFFSET", kRedrivenFromHeader's value.
std::string PositionText(std::string_view topic, int32_t partition, int64_t offset) {
  return fmt::format("{}[{}]@{}", topic, partition, offset);
}

// The kRedrivenFromHeader value among the record's own headers, or empty.
std::string_view RedrivenFrom(const TopicRecord& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == kRedrivenFromHeader) return value;
  }
  return {};
}

// A dead letter chosen for redrive, kept until its turn.
struct Redrive {
  std::string topic;
  int32_t partition = 0;
  std::string key;
  std::string value;
  KafkaHeaders headers;  // its own, and kRedrivenFromHeader
};

int RunRedrive(const RedriveFlags& f) {
  if (f.reader.bootstrap_servers.empty()) {
    return Fail(
        "--bootstrap-servers is required (or kafka.\"bootstrap.servers\" in --config FILE, or "
        "ROADPULSE_KAFKA_BOOTSTRAP_SERVERS)");
  }
  if (f.reasons.empty()) {
    return Fail(
        "--reason is required: redrive the dead letters of the reason you fixed (see "
        "`roadpulse inspect --topic roadpulse.dlq`)");
  }
  if (absl::Status s = CheckReasonNames(f.reasons); !s.ok()) return Fail(Msg(s));
  for (const std::string& reason : f.reasons) {
    if (reason == RejectReasonName(RejectReason::kTooLate)) {
      return Fail(
          "--reason too_late: those events are older than the retention horizon of their "
          "partition, which only moves forward; they would be refused again");
    }
  }
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(f.reader.regions.empty() ? DefaultRegionTablePath() : f.reader.regions);
  if (!regions.ok()) return Fail(Msg(regions.status()));
  absl::StatusOr<std::unique_ptr<TopicReader>> reader =
      OpenTopics(f.reader, TopicRead{{f.dlq_topic}, f.from, f.to}, regions->zone(),
                 /*headers=*/true);
  if (!reader.ok()) {
    fmt::print(stderr, "roadpulse redrive: {}\n", Msg(reader.status()));
    return TopicReaderExitCode(reader.status());
  }
  std::unique_ptr<KafkaProducer> producer;
  if (!f.dry_run) {
    ProducerOptions po;
    po.bootstrap_servers = f.reader.bootstrap_servers;
    po.properties = f.reader.client;
    absl::StatusOr<std::unique_ptr<KafkaProducer>> p = KafkaProducer::Create(po);
    if (!p.ok()) return Fail(Msg(p.status()));
    producer = *std::move(p);
  }

  std::map<std::string, int64_t> redriven;  // by source topic
  std::map<std::string, int64_t> other;     // dead letters of other reasons
  int64_t not_dead_letters = 0;
  int64_t cannot = 0;  // chosen, but without their bytes or their source
  // A dead letter that is a record an earlier redrive re-produced and the
  // workers refused again is a copy: redriving the dead letter it came from
  // (when this run reads that too) re-tries the same event, and redriving both
  // would double what goes back to the DLQ on every run. So of each chain
  // (original, copy, copy of the copy, ...) only the first one read goes.
  // Copies wait until the end, when every position read is known.
  absl::flat_hash_set<std::string> read;                // PositionText of each chosen
  std::vector<std::pair<std::string, Redrive>> copies;  // (came from, copy)
  int64_t copies_skipped = 0;
  absl::Status produced;
  auto redrive = [&](Redrive&& d) {
    ++redriven[d.topic];
    if (f.dry_run || !produced.ok()) return;
    // Its own partition: where its earlier and later revisions are, and its
    // partition's state (whatever partitioner its producer used).
    produced = producer->Produce(d.topic, d.key, d.value, d.headers, d.partition);
  };
  const absl::Time t0 = absl::Now();
  absl::Status st = (*reader)->ReadAll([&](const TopicRecord& r) {
    const std::optional<DeadLetterRecord> dl = ReadDeadLetter(r);
    if (!dl) {
      ++not_dead_letters;
      return absl::OkStatus();
    }
    const v1::DeadLetter& d = dl->dead_letter;
    if (std::find(f.reasons.begin(), f.reasons.end(), d.reason()) == f.reasons.end()) {
      ++other[d.reason()];
      return absl::OkStatus();
    }
    const std::optional<KafkaPosition>& source = dl->source;
    std::string why;
    if (r.null_value) {
      why = "it has no value (a tombstone)";
    } else if (d.has_value_omitted_bytes()) {
      why = fmt::format("its value ({} bytes) was too large for the dead-letter topic",
                        d.value_omitted_bytes());
    } else if (d.has_key_omitted_bytes()) {
      why = fmt::format("its key ({} bytes) was too large for the dead-letter topic",
                        d.key_omitted_bytes());
    } else if (!source) {
      why = "it has no roadpulse.source.* headers";
    } else if (source->topic != f.reader.incidents_topic &&
               source->topic != f.reader.violations_topic) {
      why = fmt::format("its source topic {} is not an input topic ({} or {})", source->topic,
                        f.reader.incidents_topic, f.reader.violations_topic);
    }
    if (!why.empty()) {
      if (cannot < 10) {
        fmt::print(stderr, "roadpulse redrive: {}[{}]@{} not redriven: {}{}\n", r.topic,
                   r.partition, r.offset, why,
                   source ? fmt::format("; the original is at {}[{}]@{}", source->topic,
                                        source->partition, source->offset)
                          : std::string());
      }
      ++cannot;
      return absl::OkStatus();
    }
    const std::string here = PositionText(r.topic, r.partition, r.offset);
    Redrive again{source->topic, source->partition, std::string(r.key), std::string(r.value),
                  OwnHeaders(r)};
    again.headers.emplace_back(kRedrivenFromHeader, here);
    read.insert(here);
    if (const std::string_view from = RedrivenFrom(r); !from.empty()) {
      copies.emplace_back(std::string(from), std::move(again));
      return absl::OkStatus();
    }
    redrive(std::move(again));
    return produced;
  });
  for (auto& [from, copy] : copies) {
    if (read.contains(from)) {
      ++copies_skipped;
    } else {  // what it came from is out of --from/--to, or deleted
      redrive(std::move(copy));
    }
  }
  if (st.ok()) st = produced;
  absl::Status flushed = producer ? producer->Flush(absl::Minutes(2)) : absl::OkStatus();
  if (!st.ok() || !flushed.ok()) {
    fmt::print(stderr, "roadpulse redrive: {}\n", Msg(!st.ok() ? st : flushed));
    return 1;
  }
  int64_t total = 0;
  std::vector<std::string> per_topic;
  for (const auto& [topic, n] : redriven) {
    total += n;
    per_topic.push_back(fmt::format("{} {}", topic, n));
  }
  std::vector<std::string> others;
  for (const auto& [reason, n] : other) others.push_back(fmt::format("{} {}", reason, n));
  fmt::print(
      "redrive: {} {} dead letters of {} ({}) in {:.2f} s; {} could not be redriven; {} "
      "refused again after an earlier redrive were left out (their originals were redriven); "
      "left alone: {}{}\n",
      f.dry_run ? "would re-produce" : "re-produced", total, fmt::join(f.reasons, ", "),
      per_topic.empty() ? "none" : fmt::format("{}", fmt::join(per_topic, ", ")),
      absl::ToDoubleSeconds(absl::Now() - t0), cannot, copies_skipped,
      others.empty() ? "no other reasons" : fmt::format("{}", fmt::join(others, ", ")),
      not_dead_letters > 0
          ? fmt::format("; {} records without a roadpulse.reason header", not_dead_letters)
          : std::string());
  return cannot > 0 ? 1 : 0;
}

}  // namespace

void AddRedriveCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RedriveFlags>();
  CLI::App* cmd = app.add_subcommand(
      "redrive",
      "After a fix (the region table gained a unit, a producer fixed its data), re-produce the\n"
      "dead letters of the reasons you fixed to the topic and partition they were refused on,\n"
      "with their original key, bytes and own headers (and roadpulse.redriven_from: the dead\n"
      "letter's place); the workers then count them. Running it twice is harmless: an event\n"
      "counts once by id and revision, and one still bad goes back to the dead-letter topic,\n"
      "where a later redrive leaves that copy out when it redrives its original. Prints what it\n"
      "did (or would, with --dry-run) on stdout.\n"
      "Exit code 0 ok, 1 a dead letter could not be redriven (its value or key was left out, or\n"
      "its source is unknown; the first 10 are named) or the cluster failed, 2 bad flags.");
  auto cli = std::make_shared<ConfigCli>();
  AddTopicReaderOptions(cmd, cli.get(), &flags->reader, "");
  cmd->add_option("--reason", flags->reasons,
                  "Redrive the dead letters refused for this reason (repeatable; required; e.g. "
                  "unknown_region)");
  cmd->add_option("--from", flags->from,
                  "Only dead letters written at or after this time (YYYY-MM-DD local, RFC 3339, "
                  "or Unix ms)");
  cmd->add_option("--to", flags->to, "Only dead letters written before this time (same forms)");
  cmd->add_flag("--dry-run", flags->dry_run, "Count what would be re-produced; produce nothing");
  cli->Bind(cmd->add_option("--dlq-topic", flags->dlq_topic, "Dead-letter topic to read")
                ->capture_default_str(),
            "topics.dlq");
  cmd->callback([flags, cli, exit_code] {
    absl::StatusOr<Config> config =
        LoadTopicReaderConfig(*cli, /*servers_from_config=*/true, "redrive", &flags->reader);
    if (!config.ok()) {
      *exit_code = Fail(Msg(config.status()));
      return;
    }
    flags->dlq_topic = config->GetString("topics.dlq");
    *exit_code = RunRedrive(*flags);
  });
}

}  // namespace roadpulse
