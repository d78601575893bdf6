"""RABBITMQ transport: one durable queue, publisher confirms, multi-ack consumers, `<queue>.dead`."""
