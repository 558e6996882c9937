// KafkaProducer and MockBroker against librdkafka's mock cluster over TCP.
// Records are read back with an independent reader (tests/kafka_test_util.h).
#include "ingest/kafka_producer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/internal/rdkafka_handles.h"
#include "ingest/mock_broker.h"
#include "spdlog/spdlog.h"
#include "tests/kafka_test_util.h"

namespace roadpulse {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

TEST(JavaPartitionTest, MatchesTheJavaClientsMurmur2) {
  // murmur2(key) & 0x7fffffff from kafka-python's port of the Java client's
  // Utils.murmur2; a modulus above every hash exposes the hash itself.
  constexpr int32_t kBig = 2147483647;
  EXPECT_EQ(testing::JavaPartition("", kBig), 275646681);
  EXPECT_EQ(testing::JavaPartition("a", kBig), 584102524);
  EXPECT_EQ(testing::JavaPartition("371602", kBig), 769288321);
  EXPECT_EQ(testing::JavaPartition("key-1", kBig), 193331640);
  EXPECT_EQ(testing::JavaPartition("hello world", kBig), 1221641059);
}

class KafkaProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MockBroker>> broker =
        MockBroker::Create(1, {{"t", 6, 1}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }
  std::unique_ptr<MockBroker> broker_;
};

TEST_F(KafkaProducerTest, DeliversKeysValuesHeadersOnJavaCompatiblePartitions) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({broker_->bootstrap_servers(), {}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  constexpr int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE((*producer)
                    ->Produce("t", absl::StrCat("key-", i % 37), absl::StrCat("value-", i),
                              {{"seq", absl::StrCat(i)}, {"empty", ""}})
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  EXPECT_EQ((*producer)->Delivered(), kRecords);
  EXPECT_EQ((*producer)->InFlight(), 0);

  absl::StatusOr<std::vector<testing::ReadRecord>> records =
      testing::ReadTopic(broker_->bootstrap_servers(), "t");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), static_cast<size_t>(kRecords));
  std::map<int32_t, int> last_seq_per_partition;
  for (const testing::ReadRecord& r : *records) {
    const int seq = std::stoi(r.Header("seq"));
    EXPECT_EQ(r.value, absl::StrCat("value-", seq));
    EXPECT_EQ(r.key, absl::StrCat("key-", seq % 37));
    EXPECT_EQ(r.partition, testing::JavaPartition(r.key, 6)) << r.key;
    EXPECT_THAT(r.headers, ElementsAre(Pair("seq", absl::StrCat(seq)), Pair("empty", "")));
    // Idempotent producer: within a partition, produce order is kept.
    auto [it, inserted] = last_seq_per_partition.try_emplace(r.partition, seq);
    if (!inserted) {
      EXPECT_LT(it->second, seq);
      it->second = seq;
    }
  }
  // 37 keys spread over more than one partition.
  EXPECT_GT(last_seq_per_partition.size(), 1u);
}

TEST_F(KafkaProducerTest, ExplicitPartitionIsHonoured) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({broker_->bootstrap_servers(), {}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->Produce("t", "k", "v", {}, 4).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  absl::StatusOr<std::vector<testing::ReadRecord>> records =
      testing::ReadTopic(broker_->bootstrap_servers(), "t");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].partition, 4);
}

TEST_F(KafkaProducerTest, FlushReportsFailedDelivery) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(
      {broker_->bootstrap_servers(), {{"message.timeout.ms", "1500"}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  // Connected and the topic learnt before the short timeout applies (see
  // event_writer_test): under load the record before the outage could expire.
  ASSERT_TRUE((*producer)->Prepare("t", absl::Seconds(30)).ok());
  ASSERT_TRUE((*producer)->Produce("t", "k", "before").ok());
  const absl::Status before = (*producer)->Flush(absl::Seconds(30));
  ASSERT_TRUE(before.ok()) << before;
  ASSERT_TRUE(broker_->SetBrokerDown(-1).ok());
  ASSERT_TRUE((*producer)->Produce("t", "k", "while down").ok());
  absl::Status s = (*producer)->Flush(absl::Seconds(30));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("delivery to t["));
  EXPECT_EQ((*producer)->Delivered(), 1);
  EXPECT_EQ((*producer)->InFlight(), 0);
  // The error is reported once.
  ASSERT_TRUE(broker_->SetBrokerUp(-1).ok());
  EXPECT_TRUE((*producer)->Flush(absl::Seconds(5)).ok());
}

// Poll() reports a failed delivery as soon as the producer learns of it, once;
// Flush() does not report it again.
TEST_F(KafkaProducerTest, PollReportsAFailedDeliveryOnce) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({broker_->bootstrap_servers(), {{"message.timeout.ms", "1500"}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  // Connected and the topic learnt before the short timeout applies (see
  // event_writer_test): under load the record before the outage could expire.
  ASSERT_TRUE((*producer)->Prepare("t", absl::Seconds(30)).ok());
  ASSERT_TRUE((*producer)->Produce("t", "k", "before").ok());
  const absl::Status before = (*producer)->Flush(absl::Seconds(30));
  ASSERT_TRUE(before.ok()) << before;
  EXPECT_TRUE((*producer)->Poll(absl::ZeroDuration()).ok());
  ASSERT_TRUE(broker_->SetBrokerDown(-1).ok());
  ASSERT_TRUE((*producer)->Produce("t", "k", "while down").ok());
  absl::Status s;
  int polls = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       s.ok() && absl::Now() < deadline; ++polls) {
    s = (*producer)->Poll(absl::Milliseconds(100));
  }
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("delivery to t["));
  EXPECT_GT(polls, 1);  // OK while the record waited for its timeout
  EXPECT_EQ((*producer)->InFlight(), 0);
  EXPECT_TRUE((*producer)->Poll(absl::ZeroDuration()).ok());
  ASSERT_TRUE(broker_->SetBrokerUp(-1).ok());
  EXPECT_TRUE((*producer)->Flush(absl::Seconds(5)).ok());
  EXPECT_EQ((*producer)->Delivered(), 1);
}

// Prepare() gives the producer the topic's partitions at once: a record for a
// partition the topic does not have is refused by Produce itself, where a
// producer that has not learnt them yet queues it and fails it later.
TEST_F(KafkaProducerTest, PrepareLearnsTheTopicsPartitionsAtOnce) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> unprepared =
      KafkaProducer::Create({broker_->bootstrap_servers(), {{"message.timeout.ms", "3000"}}});
  ASSERT_TRUE(unprepared.ok()) << unprepared.status();
  EXPECT_TRUE((*unprepared)->Produce("t", "k", "v", {}, 99).ok());
  // Reported at the latest when the scan has learnt the 6 partitions.
  EXPECT_FALSE((*unprepared)->Flush(absl::Seconds(30)).ok());

  absl::StatusOr<std::unique_ptr<KafkaProducer>> prepared =
      KafkaProducer::Create({broker_->bootstrap_servers(), {}});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  absl::StatusOr<int> partitions = (*prepared)->Prepare("t", absl::Seconds(10));
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  EXPECT_EQ(*partitions, 6);
  const absl::Status refused = (*prepared)->Produce("t", "k", "v", {}, 99);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.message(), HasSubstr("produce to t"));
  ASSERT_TRUE((*prepared)->Produce("t", "k", "v", {}, 5).ok());
  ASSERT_TRUE((*prepared)->Flush(absl::Seconds(30)).ok());
  EXPECT_EQ((*prepared)->Delivered(), 1);
}

// Without an answer, Prepare() says so, naming the topic; producing still
// works once the broker is back.
TEST_F(KafkaProducerTest, PrepareWithoutAnAnswerNamesTheTopic) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({broker_->bootstrap_servers(), {}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE(broker_->SetBrokerDown(-1).ok());
  const absl::StatusOr<int> n = (*producer)->Prepare("t", absl::Milliseconds(500));
  EXPECT_FALSE(n.ok());
  EXPECT_THAT(n.status().message(), HasSubstr("metadata of topic t"));
  ASSERT_TRUE(broker_->SetBrokerUp(-1).ok());
  ASSERT_TRUE((*producer)->Produce("t", "k", "v").ok());
  EXPECT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
}

TEST(KafkaProducerCreateTest, RejectsUnknownPropertyNamingIt) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({"127.0.0.1:1", {{"no.such.property", "1"}}});
  EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(producer.status().message(), HasSubstr("no.such.property"));
}

// An unknown name may be a secret's, misspelt: its value is never echoed. A
// known property's bad value is, unless the property is a secret.
TEST(KafkaProducerCreateTest, EchoesTheValuesOfKnownPropertiesOnly) {
  for (const char* name : {"sasl.pasword", "ssl.key.pasword", "no.such.property"}) {
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({"127.0.0.1:1", {{name, "Hunter2Secret"}}});
    EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(producer.status().message(),
                AllOf(HasSubstr(name), Not(HasSubstr("Hunter2Secret"))))
        << name;
  }
  absl::StatusOr<std::unique_ptr<KafkaProducer>> bad =
      KafkaProducer::Create({"127.0.0.1:1", {{"acks", "some"}}});
  EXPECT_THAT(bad.status().message(), HasSubstr("acks=some"));
}

TEST(KafkaPropertyScopeTest, FollowsLibrdkafkasOwnTable) {
  EXPECT_EQ(ingest_internal::PropertyScope("fetch.min.bytes"), 'C');
  EXPECT_EQ(ingest_internal::PropertyScope("group.instance.id"), 'C');
  EXPECT_EQ(ingest_internal::PropertyScope("auto.offset.reset"), 'C');  // a topic property
  EXPECT_EQ(ingest_internal::PropertyScope("linger.ms"), 'P');
  EXPECT_EQ(ingest_internal::PropertyScope("enable.idempotence"), 'P');
  EXPECT_EQ(ingest_internal::PropertyScope("bootstrap.servers"), '*');
  EXPECT_EQ(ingest_internal::PropertyScope("sasl.password"), '*');
  EXPECT_EQ(ingest_internal::PropertyScope("no.such.property"), '*');
}

TEST(KafkaPropertyScopeTest, AProducerIsNotGivenConsumerProperties) {
  // One property set for every client of a process, as `[kafka]` is.
  const KafkaProperties shared = {{"fetch.min.bytes", "1000"}, {"linger.ms", "1"}};
  {
    // The control: set on a producer as it is, librdkafka warns.
    testing::CapturedLog log;
    ingest_internal::ConfHandle conf(rd_kafka_conf_new());
    ASSERT_TRUE(ingest_internal::SetProperties(conf.get(), shared).ok());
    auto rk = ingest_internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf));
    ASSERT_TRUE(rk.ok()) << rk.status();
    EXPECT_THAT(log.Text(), HasSubstr("fetch.min.bytes is a consumer property"));
  }
  {
    testing::CapturedLog log;
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({"127.0.0.1:1", shared});
    ASSERT_TRUE(producer.ok()) << producer.status();
    EXPECT_THAT(log.Text(), Not(HasSubstr("CONFWARN")));
  }
  {
    // And a consumer is not given producer properties.
    testing::CapturedLog log;
    ingest_internal::ConfHandle conf(rd_kafka_conf_new());
    ASSERT_TRUE(ingest_internal::SetProperty(conf.get(), "bootstrap.servers", "127.0.0.1:1").ok());
    ASSERT_TRUE(ingest_internal::SetPropertiesFor(RD_KAFKA_CONSUMER, conf.get(), shared).ok());
    auto rk = ingest_internal::NewClient(RD_KAFKA_CONSUMER, std::move(conf));
    ASSERT_TRUE(rk.ok()) << rk.status();
    EXPECT_THAT(log.Text(), Not(HasSubstr("CONFWARN")));
  }
}

TEST(KafkaProducerCreateTest, RequiresBootstrapServers) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create({});
  EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument);
}

// TCP_NODELAY of each of this process's TCP sockets connected to a loopback
// `port` (the clients' ends, peer_is_port) or accepted on it (the broker's
// ends: local port `port`, not listening).
std::vector<int> NoDelayOfConnections(int port, bool peer_is_port) {
  std::vector<int> values;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return values;
  while (const dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    struct stat st;
    if (entry->d_name[0] == '.' || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    const int got = peer_is_port ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                                 : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int listening = 0;
    socklen_t listening_len = sizeof(listening);
    if (got != 0 || addr.sin_family != AF_INET || ntohs(addr.sin_port) != port ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &listening_len) != 0 ||
        listening != 0) {
      continue;
    }
    int nodelay = -1;
    len = sizeof(nodelay);
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0) values.push_back(nodelay);
  }
  closedir(dir);
  return values;
}

// A producer that has delivered one record to topic "t" of `servers`, so
// its connection is up.
absl::StatusOr<std::unique_ptr<KafkaProducer>> ConnectedProducer(const std::string& servers,
                                                                 KafkaProperties properties) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({servers, std::move(properties)});
  if (!producer.ok()) return producer.status();
  if (absl::Status s = (*producer)->Produce("t", "k", "v", {}, 0); !s.ok()) return s;
  if (absl::Status s = (*producer)->Flush(absl::Seconds(30)); !s.ok()) return s;
  return producer;
}

// Both ends of every connection send without waiting for Nagle's algorithm,
// as between a real Kafka broker and a client that sets TCP_NODELAY.
TEST(KafkaClientSocketTest, BothEndsSendWithoutWaitingForNagle) {
  absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(1, {{"t", 1, 1}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  const std::string& servers = (*broker)->bootstrap_servers();
  const int port = std::atoi(servers.substr(servers.rfind(':') + 1).c_str());
  ASSERT_GT(port, 0) << servers;
  {
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = ConnectedProducer(servers, {});
    ASSERT_TRUE(producer.ok()) << producer.status();
    const std::vector<int> client = NoDelayOfConnections(port, /*peer_is_port=*/true);
    const std::vector<int> server = NoDelayOfConnections(port, /*peer_is_port=*/false);
    ASSERT_FALSE(client.empty()) << "no client socket connected to " << servers;
    ASSERT_FALSE(server.empty()) << "no connection accepted on " << servers;
    for (int v : client) EXPECT_NE(v, 0) << "a client socket with Nagle's algorithm on";
    for (int v : server) EXPECT_NE(v, 0) << "a broker connection with Nagle's algorithm on";
  }
  {
    // The user's properties come after roadpulse's defaults: Nagle back on
    // at the client's end; the broker's ends are the broker's.
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        ConnectedProducer(servers, {{"socket.nagle.disable", "false"}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    const std::vector<int> client = NoDelayOfConnections(port, /*peer_is_port=*/true);
    ASSERT_FALSE(client.empty()) << "no client socket connected to " << servers;
    for (int v : client) EXPECT_EQ(v, 0);
  }
  // A broker taken down and brought back accepts connections the same way.
  ASSERT_TRUE((*broker)->SetBrokerDown(1).ok());
  ASSERT_TRUE((*broker)->SetBrokerUp(1).ok());
  {
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = ConnectedProducer(servers, {});
    ASSERT_TRUE(producer.ok()) << producer.status();
    const std::vector<int> server = NoDelayOfConnections(port, /*peer_is_port=*/false);
    ASSERT_FALSE(server.empty()) << "no connection accepted on " << servers;
    for (int v : server) EXPECT_NE(v, 0) << "a broker connection with Nagle's algorithm on";
  }
}

TEST(MockBrokerTest, RejectsBadShapes) {
  EXPECT_EQ(MockBroker::Create(0, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MockBroker::Create(1, {{"t", 0, 1}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MockBroker::Create(1, {{"t", 3, 2}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MockBrokerTest, CreatesTopicsWithTheirPartitionCounts) {
  absl::StatusOr<std::unique_ptr<MockBroker>> broker =
      MockBroker::Create(3, {{"a", 2, 3}, {"b", 5, 1}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  EXPECT_EQ((*broker)->broker_count(), 3);
  // Three brokers in the bootstrap list.
  EXPECT_EQ(std::count((*broker)->bootstrap_servers().begin(),
                       (*broker)->bootstrap_servers().end(), ','),
            2);
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({(*broker)->bootstrap_servers(), {}});
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->Produce("b", "k", "v", {}, 4).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  // Partition 5 of a 5-partition topic does not exist.
  absl::Status s = (*producer)->Produce("b", "k", "v", {}, 5);
  if (s.ok()) s = (*producer)->Flush(absl::Seconds(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
}

}  // namespace
}  // namespace roadpulse
