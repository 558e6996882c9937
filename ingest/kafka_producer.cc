// PLACEHOLDER until the Kafka layer lands.
