#!/bin/sh
# Accept the official image's RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, so both images run one compose file.
set -eu
conf=/etc/rabbitmq/rabbitmq.conf
{
  echo "listeners.tcp.default = 5672"
  echo "management.tcp.port = 15672"
  echo "loopback_users = none"
  if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
    echo "default_user = ${RABBITMQ_DEFAULT_USER}"
    echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-}"
  fi
} > "$conf"
chown rabbitmq:rabbitmq "$conf" /var/lib/rabbitmq 2>/dev/null || true
# Debian's rabbitmq-server wrapper drops to the rabbitmq user itself.
exec "$@"
