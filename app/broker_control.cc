#include "app/broker_control.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace roadpulse {
namespace {

constexpr char kUsage[] =
    "commands: down BROKER | up BROKER | rtt BROKER MS | errors API ERROR COUNT | clear API | "
    "coordinator GROUP BROKER | leader TOPIC PARTITION BROKER | topic NAME PARTITIONS | help "
    "(BROKER 1..N, -1 for all where allowed)";

// An integer argument in [lo, hi], or an error naming it.
absl::StatusOr<int64_t> ParseInt(const std::string& what, const std::string& text, int64_t lo,
                                 int64_t hi) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", text, "' is not an integer"));
  }
  if (v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", v, " is out of range [", lo, ", ", hi, "]"));
  }
  return v;
}

// A broker id: 1..broker_count, or -1 (all brokers) when `all_allowed`.
absl::StatusOr<int32_t> ParseBroker(const MockBroker& broker, const std::string& text,
                                    bool all_allowed) {
  absl::StatusOr<int64_t> id = ParseInt("broker id", text, all_allowed ? -1 : 1,
                                        broker.broker_count());
  if (!id.ok()) return id.status();
  if (*id == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker id 0: brokers are numbered 1..", broker.broker_count(), " (-1: all)"));
  }
  return static_cast<int32_t>(*id);
}

std::string Answer(const absl::Status& status, const std::string& done) {
  if (!status.ok()) return absl::StrCat("error: ", status.message());
  return absl::StrCat("ok ", done);
}

}  // namespace

std::string BrokerControl::Execute(std::string_view line) {
  // (Debian's abseil has its own string_view type, hence the std::string copies.)
  const std::vector<std::string> words = absl::StrSplit(
      absl::string_view(line.data(), line.size()), absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
  if (words.empty()) return absl::StrCat("error: empty command; ", kUsage);
  const std::string& cmd = words[0];
  auto arity = [&](size_t n) -> absl::Status {
    if (words.size() == n + 1) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("'", cmd, "' takes ", n, " argument(s), got ",
                                                   words.size() - 1, "; ", kUsage));
  };

  if (cmd == "help") return absl::StrCat("ok ", kUsage);

  if (cmd == "down" || cmd == "up") {
    if (absl::Status s = arity(1); !s.ok()) return Answer(s, "");
    absl::StatusOr<int32_t> id = ParseBroker(broker_, words[1], /*all_allowed=*/true);
    if (!id.ok()) return Answer(id.status(), "");
    const absl::Status s = cmd == "down" ? broker_.SetBrokerDown(*id) : broker_.SetBrokerUp(*id);
    return Answer(s, absl::StrCat("broker ", *id, " ", cmd));
  }

  if (cmd == "rtt") {
    if (absl::Status s = arity(2); !s.ok()) return Answer(s, "");
    absl::StatusOr<int32_t> id = ParseBroker(broker_, words[1], /*all_allowed=*/true);
    if (!id.ok()) return Answer(id.status(), "");
    absl::StatusOr<int64_t> ms = ParseInt("rtt milliseconds", words[2], 0, 60'000);
    if (!ms.ok()) return Answer(ms.status(), "");
    return Answer(broker_.SetBrokerRtt(*id, absl::Milliseconds(*ms)),
                  absl::StrCat("broker ", *id, " rtt ", *ms, " ms"));
  }

  if (cmd == "errors") {
    if (absl::Status s = arity(3); !s.ok()) return Answer(s, "");
    absl::StatusOr<KafkaApi> api = KafkaApiFromName(words[1]);
    if (!api.ok()) return Answer(api.status(), "");
    absl::StatusOr<MockError> error = MockErrorFromName(words[2]);
    if (!error.ok()) return Answer(error.status(), "");
    absl::StatusOr<int64_t> count = ParseInt("error count", words[3], 1, 100'000);
    if (!count.ok()) return Answer(count.status(), "");
    broker_.PushRequestErrors(*api,
                              std::vector<MockError>(static_cast<size_t>(*count), *error));
    return absl::StrCat("ok next ", *count, " ", KafkaApiName(*api), " request(s) fail with ",
                        MockErrorName(*error));
  }

  if (cmd == "clear") {
    if (absl::Status s = arity(1); !s.ok()) return Answer(s, "");
    absl::StatusOr<KafkaApi> api = KafkaApiFromName(words[1]);
    if (!api.ok()) return Answer(api.status(), "");
    broker_.ClearRequestErrors(*api);
    return absl::StrCat("ok ", KafkaApiName(*api), " errors cleared");
  }

  if (cmd == "coordinator") {
    if (absl::Status s = arity(2); !s.ok()) return Answer(s, "");
    absl::StatusOr<int32_t> id = ParseBroker(broker_, words[2], /*all_allowed=*/false);
    if (!id.ok()) return Answer(id.status(), "");
    return Answer(broker_.SetGroupCoordinator(std::string(words[1]), *id),
                  absl::StrCat("group ", words[1], " coordinator is broker ", *id));
  }

  if (cmd == "leader") {
    if (absl::Status s = arity(3); !s.ok()) return Answer(s, "");
    absl::StatusOr<int64_t> partition = ParseInt("partition", words[2], 0, INT32_MAX);
    if (!partition.ok()) return Answer(partition.status(), "");
    // -1 here means leader-less, not "all brokers".
    absl::StatusOr<int32_t> id = ParseBroker(broker_, words[3], /*all_allowed=*/true);
    if (!id.ok()) return Answer(id.status(), "");
    return Answer(broker_.SetPartitionLeader(std::string(words[1]),
                                             static_cast<int32_t>(*partition), *id),
                  absl::StrCat(words[1], "[", *partition, "] leader is ",
                               *id == -1 ? std::string("none") : absl::StrCat("broker ", *id)));
  }

  if (cmd == "topic") {
    if (absl::Status s = arity(2); !s.ok()) return Answer(s, "");
    absl::StatusOr<int64_t> partitions = ParseInt("partition count", words[2], 1, 1024);
    if (!partitions.ok()) return Answer(partitions.status(), "");
    TopicSpec topic;
    topic.name = words[1];
    topic.partitions = static_cast<int>(*partitions);
    return Answer(broker_.CreateTopic(topic),
                  absl::StrCat("topic ", words[1], " created with ", *partitions, " partitions"));
  }

  return absl::StrCat("error: unknown command '", cmd, "'; ", kUsage);
}

}  // namespace roadpulse
