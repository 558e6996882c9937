#include "ingest/mock_broker.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

// rdkafka_mock.h requires rdkafka.h first.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ingest/internal/rdkafka_handles.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace ingest_internal {

struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_t* cluster) const { rd_kafka_mock_cluster_destroy(cluster); }
};

// The mock cluster needs an rd_kafka_t for its bookkeeping; it must be
// destroyed before that handle (librdkafka asserts otherwise), hence the
// member order.
struct MockClusterState {
  KafkaHandle rk;
  std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter> cluster;
};

}  // namespace ingest_internal

namespace {

rd_kafka_resp_err_t ToRdKafka(MockError error) {
  switch (error) {
    case MockError::kTransport:
      return RD_KAFKA_RESP_ERR__TRANSPORT;
    case MockError::kRequestTimedOut:
      return RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
    case MockError::kNotLeaderForPartition:
      return RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
    case MockError::kLeaderNotAvailable:
      return RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
    case MockError::kNotEnoughReplicas:
      return RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
    case MockError::kCoordinatorNotAvailable:
      return RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE;
    case MockError::kNotCoordinator:
      return RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
    case MockError::kRebalanceInProgress:
      return RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
    case MockError::kUnknownTopicOrPartition:
      return RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  }
  return RD_KAFKA_RESP_ERR_UNKNOWN;
}

constexpr std::pair<KafkaApi, std::string_view> kApiNames[] = {
    {KafkaApi::kProduce, "Produce"},
    {KafkaApi::kFetch, "Fetch"},
    {KafkaApi::kListOffsets, "ListOffsets"},
    {KafkaApi::kMetadata, "Metadata"},
    {KafkaApi::kOffsetCommit, "OffsetCommit"},
    {KafkaApi::kOffsetFetch, "OffsetFetch"},
    {KafkaApi::kFindCoordinator, "FindCoordinator"},
    {KafkaApi::kJoinGroup, "JoinGroup"},
    {KafkaApi::kHeartbeat, "Heartbeat"},
    {KafkaApi::kLeaveGroup, "LeaveGroup"},
    {KafkaApi::kSyncGroup, "SyncGroup"},
    {KafkaApi::kInitProducerId, "InitProducerId"},
};

constexpr MockError kAllMockErrors[] = {
    MockError::kTransport,           MockError::kRequestTimedOut,
    MockError::kNotLeaderForPartition, MockError::kLeaderNotAvailable,
    MockError::kNotEnoughReplicas,   MockError::kCoordinatorNotAvailable,
    MockError::kNotCoordinator,      MockError::kRebalanceInProgress,
    MockError::kUnknownTopicOrPartition,
};

// Debian's abseil has its own string_view type, not std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::StatusOr<KafkaApi> KafkaApiFromName(std::string_view std_name) {
  const absl::string_view name = Absl(std_name);
  std::vector<absl::string_view> known;
  for (const auto& [api, api_name] : kApiNames) {
    if (absl::EqualsIgnoreCase(name, Absl(api_name))) return api;
    known.push_back(Absl(api_name));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown Kafka API '", name, "' (known: ",
                                                 absl::StrJoin(known, ", "), ")"));
}

std::string KafkaApiName(KafkaApi api) {
  for (const auto& [a, api_name] : kApiNames) {
    if (a == api) return std::string(api_name);
  }
  return "?";
}

std::string MockErrorName(MockError error) { return rd_kafka_err2name(ToRdKafka(error)); }

absl::StatusOr<MockError> MockErrorFromName(std::string_view std_name) {
  const absl::string_view name = Absl(std_name);
  // librdkafka names its local errors with a leading '_' (_TRANSPORT).
  const absl::string_view bare = absl::StripPrefix(name, "_");
  std::vector<std::string> known;
  for (MockError e : kAllMockErrors) {
    const std::string full = MockErrorName(e);
    if (absl::EqualsIgnoreCase(bare, absl::StripPrefix(full, "_"))) return e;
    known.push_back(full);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown or unsupported error '", name,
                                                 "' (known: ", absl::StrJoin(known, ", "), ")"));
}

using ingest_internal::ToStatus;

namespace {

// Sets TCP_NODELAY on this process's listening TCP sockets bound to one of
// the ports of `bootstrap_servers` ("HOST:PORT,..."): the mock brokers'. Linux
// copies the option to every connection accepted afterwards. Returns how many
// listeners it set.
//
// Why: librdkafka's mock leaves Nagle's algorithm on for its connections; a
// real Kafka broker turns it off for each one it accepts. With Nagle on, a
// response written while the broker's previous small one is unacknowledged
// waits for the client's ACK, which a client that has nothing to send delays:
// a worker's Fetch responses came back only as its next fetch nudge
// (ListOffsets, every 10 ms) carried that ACK, and a live worker fell behind
// a 5000 events/s producer (`roadpulse bench-latency`: p50 1.8 s).
int DisableNagleOnListeners(const std::string& bootstrap_servers) {
  std::vector<int> ports;
  for (absl::string_view server : absl::StrSplit(bootstrap_servers, ',')) {
    int port = 0;
    const size_t colon = server.rfind(':');
    if (colon != absl::string_view::npos && absl::SimpleAtoi(server.substr(colon + 1), &port)) {
      ports.push_back(port);
    }
  }
  int set = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (const dirent* entry = readdir(dir)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd)) continue;
    int listening = 0;
    socklen_t len = sizeof(listening);
    sockaddr_in local{};
    socklen_t local_len = sizeof(local);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        local.sin_family != AF_INET ||
        std::find(ports.begin(), ports.end(), ntohs(local.sin_port)) == ports.end()) {
      continue;
    }
    const int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0) ++set;
  }
  closedir(dir);
  return set;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MockBroker>> MockBroker::Create(
    int brokers, const std::vector<TopicSpec>& topics) {
  if (brokers < 1) {
    return absl::InvalidArgumentError(absl::StrCat("mock broker: brokers must be >= 1, got ",
                                                   brokers));
  }
  ingest_internal::ConfHandle conf(rd_kafka_conf_new());
  // The bookkeeping handle never connects anywhere by itself.
  if (absl::Status s = ingest_internal::SetProperty(conf.get(), "log_level", "4"); !s.ok()) {
    return s;
  }
  absl::StatusOr<ingest_internal::KafkaHandle> rk =
      ingest_internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf));
  if (!rk.ok()) return rk.status();
  auto state = std::make_unique<ingest_internal::MockClusterState>();
  state->rk = *std::move(rk);
  state->cluster.reset(rd_kafka_mock_cluster_new(state->rk.get(), brokers));
  if (state->cluster == nullptr) {
    return absl::UnavailableError("mock broker: rd_kafka_mock_cluster_new failed (see log)");
  }
  std::unique_ptr<MockBroker> broker(new MockBroker(std::move(state)));
  broker->broker_count_ = brokers;
  // Before any client can connect: only connections accepted afterwards
  // inherit the option. Not fatal: the brokers work either way, slower.
  if (const int set = DisableNagleOnListeners(broker->bootstrap_servers_); set != brokers) {
    spdlog::warn(
        "mock broker: TCP_NODELAY set on {} of {} listeners; the others answer with "
        "Nagle's algorithm on",
        set, brokers);
  }
  for (const TopicSpec& topic : topics) {
    if (absl::Status s = broker->CreateTopic(topic); !s.ok()) return s;
  }
  return broker;
}

MockBroker::MockBroker(std::unique_ptr<ingest_internal::MockClusterState> state)
    : state_(std::move(state)),
      bootstrap_servers_(rd_kafka_mock_cluster_bootstraps(state_->cluster.get())) {}

MockBroker::~MockBroker() = default;

absl::Status MockBroker::CreateTopic(const TopicSpec& topic) {
  if (topic.name.empty() || topic.partitions < 1 || topic.replication_factor < 1 ||
      topic.replication_factor > broker_count_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mock broker: bad topic '", topic.name, "' (partitions ", topic.partitions,
        ", replication factor ", topic.replication_factor, ", brokers ", broker_count_, ")"));
  }
  absl::Status s = ToStatus(rd_kafka_mock_topic_create(state_->cluster.get(), topic.name.c_str(),
                                                       topic.partitions, topic.replication_factor),
                            absl::StrCat("mock broker: create topic ", topic.name));
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(topics_mu_);
    topics_[topic.name] = topic.partitions;
  }
  return s;
}

absl::Status MockBroker::SetBrokerDown(int32_t broker_id) {
  return ToStatus(rd_kafka_mock_broker_set_down(state_->cluster.get(), broker_id),
                  absl::StrCat("mock broker: set broker ", broker_id, " down"));
}

absl::Status MockBroker::SetBrokerUp(int32_t broker_id) {
  absl::Status s = ToStatus(rd_kafka_mock_broker_set_up(state_->cluster.get(), broker_id),
                            absl::StrCat("mock broker: set broker ", broker_id, " up"));
  // librdkafka 2.0 opens a new listener for a broker coming back up.
  if (s.ok()) DisableNagleOnListeners(bootstrap_servers_);
  return s;
}

absl::Status MockBroker::SetBrokerRtt(int32_t broker_id, absl::Duration rtt) {
  return ToStatus(rd_kafka_mock_broker_set_rtt(state_->cluster.get(), broker_id,
                                               static_cast<int>(absl::ToInt64Milliseconds(rtt))),
                  absl::StrCat("mock broker: set rtt of broker ", broker_id));
}

void MockBroker::PushRequestErrors(KafkaApi api, const std::vector<MockError>& errors) {
  std::vector<rd_kafka_resp_err_t> codes;
  codes.reserve(errors.size());
  for (MockError e : errors) codes.push_back(ToRdKafka(e));
  rd_kafka_mock_push_request_errors_array(state_->cluster.get(), static_cast<int16_t>(api),
                                          codes.size(), codes.data());
}

void MockBroker::ClearRequestErrors(KafkaApi api) {
  rd_kafka_mock_clear_request_errors(state_->cluster.get(), static_cast<int16_t>(api));
}

absl::Status MockBroker::PushBrokerRequestErrors(int32_t broker_id, KafkaApi api,
                                                 const std::vector<DelayedError>& errors) {
  for (const DelayedError& e : errors) {
    // The C call is variadic in (error, rtt) pairs: push them one by one.
    if (absl::Status s =
            ToStatus(rd_kafka_mock_broker_push_request_error_rtts(
                         state_->cluster.get(), broker_id, static_cast<int16_t>(api), 1,
                         e.error.has_value() ? ToRdKafka(*e.error) : RD_KAFKA_RESP_ERR_NO_ERROR,
                         static_cast<int>(absl::ToInt64Milliseconds(e.rtt))),
                     absl::StrCat("mock broker: push errors for broker ", broker_id));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> MockBroker::PendingBrokerRequestErrors(int32_t broker_id,
                                                              KafkaApi api) const {
  size_t count = 0;
  if (absl::Status s =
          ToStatus(rd_kafka_mock_broker_error_stack_cnt(state_->cluster.get(), broker_id,
                                                        static_cast<int16_t>(api), &count),
                   absl::StrCat("mock broker: pending errors of broker ", broker_id));
      !s.ok()) {
    return s;
  }
  return count;
}

absl::Status MockBroker::SetGroupCoordinator(const std::string& group_id, int32_t broker_id) {
  return ToStatus(
      rd_kafka_mock_coordinator_set(state_->cluster.get(), "group", group_id.c_str(), broker_id),
      absl::StrCat("mock broker: set coordinator of group ", group_id));
}

absl::Status MockBroker::SetPartitionLeader(const std::string& topic, int32_t partition,
                                            int32_t broker_id) {
  {
    std::lock_guard<std::mutex> lock(topics_mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end() || partition < 0 || partition >= it->second) {
      return absl::NotFoundError(absl::StrCat("mock broker: no partition ", topic, "[", partition,
                                              "] (created topics only)"));
    }
  }
  return ToStatus(rd_kafka_mock_partition_set_leader(state_->cluster.get(), topic.c_str(),
                                                     partition, broker_id),
                  absl::StrCat("mock broker: set leader of ", topic, "[", partition, "]"));
}

}  // namespace roadpulse
