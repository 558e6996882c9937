// MockBroker: librdkafka's mock Kafka cluster (rdkafka_mock.h), in process.
// It speaks the real Kafka wire protocol on loopback TCP, so any client
// (librdkafka, kcat, kafka-python) can connect to bootstrap_servers(). It is
// roadpulse's embedded default for the demo and the broker for tests.
//
// Limits of the mock in Debian 12's librdkafka 2.0.2 (measured, see
// ../shared/ARCHITECTURE.md):
//  - each partition keeps only about 5 MiB (100,000 batches); older data is
//    dropped silently, and one batch over 5 MiB evicts itself. Use enough
//    partitions for big runs;
//  - brokers listen on 127.0.0.1 on ports the OS picks: there is no way to
//    choose a port in 2.0.2;
//  - no admin API (CreateTopics times out): create topics here;
//  - a rebalance waits about session.timeout.ms minus 1 s (use ~6000 ms);
//  - transactions are accepted but not enforced, and no transaction markers
//    are written (tests/kafka_test_util.h writes one);
//  - record times cannot be looked up (ListOffsets by timestamp answers -1,
//    "no such record"): TopicReader's `from` (`replay --since`, `export
//    --from`) then gives an empty range and its `to` is ignored; it warns;
//  - static membership is not implemented: group.instance.id is read and
//    ignored, so a restarted member joins as a new one (a rebalance), and
//    since librdkafka sends no LeaveGroup for a static member, the old one
//    stays until its session times out (another rebalance);
//  - sequence numbers are checked for transactional producers only: an
//    idempotent producer's batch can be appended twice when its broker goes
//    down before answering, and when a later request succeeds after an
//    earlier one failed (a leader move, an injected error), librdkafka takes
//    the failed one as written and acknowledges records that never were.
//    tests/chaos_test.py works around it (no input leader moves under load,
//    one request in flight).
// The mock API is experimental in librdkafka; this class is the only place
// that touches it.
#ifndef ROADPULSE_INGEST_MOCK_BROKER_H_
#define ROADPULSE_INGEST_MOCK_BROKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace roadpulse {

namespace ingest_internal {
struct MockClusterState;
}  // namespace ingest_internal

struct TopicSpec {
  std::string name;              // topic name (required)
  int partitions = 8;            // >= 1
  int replication_factor = 1;    // 1 .. number of brokers
};

// Kafka protocol request types, for fault injection (values are the Kafka ApiKeys).
enum class KafkaApi : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kInitProducerId = 22,
};

// Errors a mock broker can answer a request with, for fault injection.
enum class MockError {
  kTransport,                // the broker drops the connection
  kRequestTimedOut,          // REQUEST_TIMED_OUT
  kNotLeaderForPartition,    // NOT_LEADER_FOR_PARTITION
  kLeaderNotAvailable,       // LEADER_NOT_AVAILABLE
  kNotEnoughReplicas,        // NOT_ENOUGH_REPLICAS
  kCoordinatorNotAvailable,  // COORDINATOR_NOT_AVAILABLE
  kNotCoordinator,           // NOT_COORDINATOR
  kRebalanceInProgress,      // REBALANCE_IN_PROGRESS
  kUnknownTopicOrPartition,  // UNKNOWN_TOPIC_OR_PART
};

// Names for fault injection from text (`roadpulse broker --control`).
// A Kafka API by its protocol name, case-insensitive: "Produce", "Fetch",
// "OffsetCommit", "JoinGroup", ... kInvalidArgument listing the known names.
absl::StatusOr<KafkaApi> KafkaApiFromName(std::string_view name);
std::string KafkaApiName(KafkaApi api);
// A MockError by the librdkafka name of its error code (rd_kafka_err2name:
// "NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT", "_TRANSPORT", ...),
// case-insensitive, the leading '_' optional. kInvalidArgument listing the
// known names.
absl::StatusOr<MockError> MockErrorFromName(std::string_view name);
std::string MockErrorName(MockError error);

// Thread-safe: every method may be called from any thread while clients use
// the cluster. Destroying the object stops the brokers (clients see them go).
class MockBroker {
 public:
  // Starts `brokers` (>= 1) mock brokers and creates `topics`.
  // kInvalidArgument for bad counts; kUnavailable if the cluster cannot start.
  // Like a real Kafka broker (and unlike librdkafka's mock by itself), every
  // connection it accepts sends with Nagle's algorithm off (TCP_NODELAY).
  static absl::StatusOr<std::unique_ptr<MockBroker>> Create(int brokers,
                                                            const std::vector<TopicSpec>& topics);
  ~MockBroker();
  MockBroker(const MockBroker&) = delete;
  MockBroker& operator=(const MockBroker&) = delete;

  // "127.0.0.1:PORT,..." for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  int broker_count() const { return broker_count_; }

  absl::Status CreateTopic(const TopicSpec& topic);

  // Fault injection (broker ids are 1..broker_count(); -1 means all brokers).
  // Disconnects the broker and refuses new connections (no leader change).
  absl::Status SetBrokerDown(int32_t broker_id);
  absl::Status SetBrokerUp(int32_t broker_id);
  // Adds `rtt` of delay to every response of the broker.
  absl::Status SetBrokerRtt(int32_t broker_id, absl::Duration rtt);
  // The next errors.size() requests of type `api` (to any broker) fail with
  // these errors, in order.
  void PushRequestErrors(KafkaApi api, const std::vector<MockError>& errors);
  void ClearRequestErrors(KafkaApi api);
  // The next errors.size() requests of type `api` to `broker_id` fail with
  // these errors, in order, each answered `rtt` late; an entry without an
  // error only delays the request's normal answer. They are used before the
  // cluster-wide ones above, and ClearRequestErrors leaves them.
  struct DelayedError {
    std::optional<MockError> error;
    absl::Duration rtt;
  };
  absl::Status PushBrokerRequestErrors(int32_t broker_id, KafkaApi api,
                                       const std::vector<DelayedError>& errors);
  // How many of the errors pushed with PushBrokerRequestErrors are still to
  // be used: a drop means a request of `api` reached the broker.
  absl::StatusOr<size_t> PendingBrokerRequestErrors(int32_t broker_id, KafkaApi api) const;
  // Makes `broker_id` the coordinator of consumer group `group_id`.
  absl::Status SetGroupCoordinator(const std::string& group_id, int32_t broker_id);
  // Makes `broker_id` the leader of one partition (-1: leader-less).
  // kNotFound unless the topic was created through this object with that
  // partition (the mock would silently create a mistyped topic).
  absl::Status SetPartitionLeader(const std::string& topic, int32_t partition,
                                  int32_t broker_id);

 private:
  explicit MockBroker(std::unique_ptr<ingest_internal::MockClusterState> state);

  std::unique_ptr<ingest_internal::MockClusterState> state_;
  std::string bootstrap_servers_;
  int broker_count_ = 0;
  mutable std::mutex topics_mu_;
  std::map<std::string, int> topics_;  // created topics -> partitions; guarded by topics_mu_
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_MOCK_BROKER_H_
