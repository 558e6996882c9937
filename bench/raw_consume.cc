// The ceiling for `roadpulse run` (issue 8, case a): librdkafka batch
// consume of the input topics doing nothing else, through the same consumer
// settings a worker uses (fetch sizes, queue API), until every partition
// reaches its end. Prints records, bytes and seconds.
//
//   build/bench/raw_consume BOOTSTRAP TOPIC...
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: raw_consume BOOTSTRAP TOPIC...\n");
    return 2;
  }
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::string group = "raw-consume-" + std::to_string(std::chrono::steady_clock::now()
                                                                 .time_since_epoch()
                                                                 .count());
  const std::vector<std::pair<const char*, std::string>> props = {
      {"bootstrap.servers", argv[1]},
      {"group.id", group},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "earliest"},
      {"enable.auto.commit", "false"},
      {"fetch.wait.max.ms", "100"},
      // The socket setting of roadpulse's own clients (NewClientConf), so the
      // ceiling is not measured with less than the worker gets.
      {"socket.nagle.disable", "true"},
  };
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", err);
      return 2;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  // Assign every partition from its beginning (no group rebalance to wait for).
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(64);
  int partitions = 0;
  for (int i = 2; i < argc; ++i) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, argv[i], nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1) {
      std::fprintf(stderr, "no metadata for %s\n", argv[i]);
      return 1;
    }
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
      // As a ListOffsets timestamp (below), -2 asks for the earliest offset.
      rd_kafka_topic_partition_list_add(list, argv[i], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      ++partitions;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
  }
  // Each partition's first offset, as a number (one request per leader):
  // a logical one (BEGINNING) needs a lookup at assignment, which librdkafka
  // 2.0.2 defers by 500 ms when the partition is not yet with its leader's
  // thread, as it happened in some runs.
  if (rd_kafka_offsets_for_times(rk, list, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "no first offsets\n");
    return 1;
  }
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "no first offset for %s [%d]: %s\n", list->elems[i].topic,
                   list->elems[i].partition, rd_kafka_err2str(list->elems[i].err));
      return 1;
    }
    if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  const auto start = std::chrono::steady_clock::now();
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);
  std::vector<rd_kafka_message_t*> batch(10000);
  long long records = 0;
  long long bytes = 0;
  int at_end = 0;
  while (at_end < partitions) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch.data(), batch.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[static_cast<size_t>(i)];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ++at_end;
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++records;
        bytes += static_cast<long long>(m->len);
      }
      rd_kafka_message_destroy(m);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("records=%lld bytes=%lld seconds=%.3f\n", records, bytes, seconds);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}
