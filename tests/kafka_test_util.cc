#include "tests/kafka_test_util.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace roadpulse::testing {
namespace {

struct Deleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};

// Kafka's wire encoding: big-endian integers, int16-length strings, and the
// zigzag varints of record batch v2.
class Wire {
 public:
  void I8(int8_t v) { out_.push_back(static_cast<char>(v)); }
  void I16(int16_t v) { Big(static_cast<uint16_t>(v), 2); }
  void I32(int32_t v) { Big(static_cast<uint32_t>(v), 4); }
  void I64(int64_t v) { Big(static_cast<uint64_t>(v), 8); }
  void VarInt(int64_t v) {
    uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    for (; z >= 0x80; z >>= 7) out_.push_back(static_cast<char>((z & 0x7f) | 0x80));
    out_.push_back(static_cast<char>(z));
  }
  void Str(std::string_view s) {
    I16(static_cast<int16_t>(s.size()));
    out_.append(s);
  }
  void Raw(std::string_view s) { out_.append(s); }
  const std::string& bytes() const { return out_; }

 private:
  void Big(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

// CRC-32C (Castagnoli), the checksum of a v2 record batch.
uint32_t Crc32c(std::string_view data) {
  uint32_t crc = 0xffffffff;
  for (const char c : data) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

int64_t ReadBig(std::string_view bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v = (v << 8) | static_cast<uint8_t>(bytes[at + static_cast<size_t>(i)]);
  if (n == 2) return static_cast<int16_t>(v);
  if (n == 4) return static_cast<int32_t>(v);
  return static_cast<int64_t>(v);
}

}  // namespace

std::string ReadRecord::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

absl::StatusOr<std::vector<ReadRecord>> ReadTopic(const std::string& bootstrap_servers,
                                                  const std::string& topic,
                                                  absl::Duration timeout) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_servers.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", "roadpulse-test-reader", errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (raw == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::UnavailableError(errstr);
  }
  std::unique_ptr<rd_kafka_t, Deleter> rk(raw);
  rd_kafka_poll_set_consumer(rk.get());

  std::unique_ptr<rd_kafka_topic_t, Deleter> rkt(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
  const rd_kafka_metadata_t* md_raw = nullptr;
  if (rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, rkt.get(), &md_raw, 10000);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
  }
  std::unique_ptr<const rd_kafka_metadata_t, Deleter> md(md_raw);
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::NotFoundError(absl::StrCat("topic ", topic));
  }
  const int partitions = md->topics[0].partition_cnt;
  std::vector<int64_t> end(static_cast<size_t>(partitions));
  std::unique_ptr<rd_kafka_topic_partition_list_t, Deleter> list(
      rd_kafka_topic_partition_list_new(partitions));
  int remaining = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0;
    int64_t hi = 0;
    if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p,
                                                                   &lo, &hi, 10000);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("watermarks: ", rd_kafka_err2str(err)));
    }
    end[static_cast<size_t>(p)] = hi;
    if (hi > lo) {
      ++remaining;
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = lo;
    }
  }
  std::vector<ReadRecord> records;
  if (remaining == 0) return records;
  rd_kafka_assign(rk.get(), list.get());
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
  while (remaining > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reading ", topic, ": ", remaining,
                                                      " partitions not at their end"));
    }
    std::unique_ptr<rd_kafka_message_t, Deleter> m(rd_kafka_consumer_poll(rk.get(), 100));
    if (m == nullptr || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    ReadRecord r;
    r.partition = m->partition;
    r.offset = m->offset;
    if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_timestamp_type_t type;
    r.timestamp_ms = rd_kafka_message_timestamp(m.get(), &type);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        r.headers.emplace_back(name, value == nullptr
                                         ? std::string()
                                         : std::string(static_cast<const char*>(value), size));
      }
    }
    if (m->offset + 1 >= end[static_cast<size_t>(m->partition)]) --remaining;
    records.push_back(std::move(r));
  }
  std::sort(records.begin(), records.end(), [](const ReadRecord& a, const ReadRecord& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return records;
}

int32_t JavaPartition(std::string_view key, int32_t partitions) {
  // org.apache.kafka.common.utils.Utils.murmur2, in unsigned arithmetic.
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const uint32_t length = static_cast<uint32_t>(key.size());
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  uint32_t h = 0x9747b28c ^ length;
  const uint32_t length4 = length / 4;
  for (uint32_t i = 0; i < length4; ++i) {
    const uint32_t i4 = i * 4;
    uint32_t k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) |
                 (static_cast<uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = length & ~3u;
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(data[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>((h & 0x7fffffff) % static_cast<uint32_t>(partitions));
}

absl::StatusOr<int64_t> AppendTransactionMarker(const std::string& leader, const std::string& topic,
                                                int32_t partition) {
  // The control record: key = (version 0, type 1: commit), value = (version
  // 0, coordinator epoch).
  Wire key;
  key.I16(0);
  key.I16(1);
  Wire value;
  value.I16(0);
  value.I32(0);
  Wire record;
  record.I8(0);      // attributes
  record.VarInt(0);  // timestamp delta
  record.VarInt(0);  // offset delta
  record.VarInt(static_cast<int64_t>(key.bytes().size()));
  record.Raw(key.bytes());
  record.VarInt(static_cast<int64_t>(value.bytes().size()));
  record.Raw(value.bytes());
  record.VarInt(0);  // headers
  // The batch from its attributes on: what the CRC covers.
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  Wire tail;
  tail.I16(0x30);  // transactional | control
  tail.I32(0);     // last offset delta
  tail.I64(now_ms);
  tail.I64(now_ms);
  tail.I64(4242);  // producer id
  tail.I16(0);     // producer epoch
  tail.I32(-1);    // base sequence
  tail.I32(1);     // records
  tail.VarInt(static_cast<int64_t>(record.bytes().size()));
  tail.Raw(record.bytes());
  Wire batch;
  batch.I64(0);  // base offset (the broker assigns it)
  batch.I32(static_cast<int32_t>(4 + 1 + 4 + tail.bytes().size()));
  batch.I32(-1);  // partition leader epoch
  batch.I8(2);    // magic
  batch.I32(static_cast<int32_t>(Crc32c(tail.bytes())));
  batch.Raw(tail.bytes());

  Wire request;
  request.I16(0);  // Produce
  request.I16(3);
  request.I32(7);  // correlation id
  request.Str("roadpulse-test-marker");
  request.I16(-1);  // no transactional id
  request.I16(1);   // acks
  request.I32(10000);
  request.I32(1);
  request.Str(topic);
  request.I32(1);
  request.I32(partition);
  request.I32(static_cast<int32_t>(batch.bytes().size()));
  request.Raw(batch.bytes());
  Wire frame;
  frame.I32(static_cast<int32_t>(request.bytes().size()));
  frame.Raw(request.bytes());

  const size_t colon = leader.rfind(':');
  int port = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || !absl::SimpleAtoi(leader.substr(colon + 1), &port) ||
      inet_pton(AF_INET, leader.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("leader \"", leader, "\" is not ip:port"));
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  struct Socket {
    ~Socket() {
      if (fd >= 0) close(fd);
    }
    const int fd;
  } socket_owner{socket(AF_INET, SOCK_STREAM, 0)};
  const int fd = socket_owner.fd;
  if (fd < 0) return absl::UnavailableError("socket");
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect to ", leader));
  }
  const std::string& out = frame.bytes();
  for (size_t sent = 0; sent < out.size();) {
    const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return absl::UnavailableError("send");
    sent += static_cast<size_t>(n);
  }
  auto read_exactly = [&](size_t n) -> absl::StatusOr<std::string> {
    std::string in(n, '\0');
    for (size_t got = 0; got < n;) {
      const ssize_t r = recv(fd, in.data() + got, n - got, 0);
      if (r <= 0) return absl::UnavailableError("no answer to the Produce request");
      got += static_cast<size_t>(r);
    }
    return in;
  };
  absl::StatusOr<std::string> size = read_exactly(4);
  if (!size.ok()) return size.status();
  absl::StatusOr<std::string> body = read_exactly(static_cast<size_t>(ReadBig(*size, 0, 4)));
  if (!body.ok()) return body.status();
  // correlation id, [topics: name, [partitions: index, error, base offset, ...]]
  const size_t name_at = 4 + 4;
  if (body->size() < name_at + 2) return absl::DataLossError("short Produce response");
  const size_t partition_at = name_at + 2 + static_cast<size_t>(ReadBig(*body, name_at, 2)) + 4;
  if (body->size() < partition_at + 4 + 2 + 8) return absl::DataLossError("short Produce response");
  const int64_t error = ReadBig(*body, partition_at + 4, 2);
  if (error != 0) {
    return absl::InternalError(
        absl::StrCat("Produce of the marker: Kafka error ", error, " (",
                     rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error)), ")"));
  }
  return ReadBig(*body, partition_at + 4 + 2, 8);
}

BoundedRun RunWithWatchdog(const std::function<absl::Status(const std::atomic<bool>*)>& run,
                           absl::Duration limit) {
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    const absl::Time deadline = absl::Now() + limit;
    while (!finished.load() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
    stop.store(true);
  });
  BoundedRun result;
  result.status = run(&stop);
  result.timed_out = stop.load();
  finished.store(true);
  watchdog.join();
  return result;
}

}  // namespace roadpulse::testing
