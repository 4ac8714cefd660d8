"""Domain rules as pure functions: no Faust, no Kafka, `now` passed in."""
