// BrokerControl: the text protocol of `roadpulse broker --control`, which
// lets a test harness inject faults into the running mock cluster. One
// command per line in, one answer line out: "ok ..." or "error: ...".
//
//   down BROKER                  take a broker down (-1: all), no leader change
//   up BROKER                    bring it back
//   rtt BROKER MS                add MS of delay to every response (0: none)
//   errors API ERROR COUNT       the next COUNT requests of API fail with ERROR
//   clear API                    drop the errors still queued for API
//   coordinator GROUP BROKER     move consumer group GROUP's coordinator
//   leader TOPIC PARTITION BROKER  move a partition's leader (-1: none)
//   topic NAME PARTITIONS          create a topic (replication factor 1)
//   help                         the list above, on one line
//
// API is a Kafka protocol name (Produce, Fetch, OffsetCommit, JoinGroup,
// Heartbeat, ...), ERROR a librdkafka error name (REQUEST_TIMED_OUT,
// NOT_LEADER_FOR_PARTITION, COORDINATOR_NOT_AVAILABLE, ...), both
// case-insensitive. A bad command only gets an error answer: it never stops
// the broker.
#ifndef ROADPULSE_APP_BROKER_CONTROL_H_
#define ROADPULSE_APP_BROKER_CONTROL_H_

#include <string>
#include <string_view>

#include "ingest/mock_broker.h"

namespace roadpulse {

// Thread-compatible. `broker` is borrowed and must outlive this object.
class BrokerControl {
 public:
  explicit BrokerControl(MockBroker& broker) : broker_(broker) {}

  // Runs one command line (without its newline) and returns the answer line
  // (without a newline): "ok <what was done>" or "error: <the problem>".
  std::string Execute(std::string_view line);

 private:
  MockBroker& broker_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_APP_BROKER_CONTROL_H_
