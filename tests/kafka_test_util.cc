#include "tests/kafka_test_util.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

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
