#!/bin/sh
# Accept the official image's RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, so both images run one compose file.
set -eu
conf=/etc/rabbitmq/rabbitmq.conf
{
  echo "listeners.tcp.default = 5672"
  echo "management.tcp.port = 15672"
  echo "loopback_users = none"
  # The management plugin gathers every queue's and connection's statistics each 5 s by default: most of an idle
  # broker's CPU. Nothing of ours reads them (queue depths come over AMQP); the management UI refreshes slower.
  echo "collect_statistics_interval = ${RABBITMQ_STATS_INTERVAL_MS:-30000}"
  if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
    echo "default_user = ${RABBITMQ_DEFAULT_USER}"
    echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-}"
  fi
} > "$conf"
chown rabbitmq:rabbitmq "$conf" /var/lib/rabbitmq 2>/dev/null || true
if [ "$*" = rabbitmq-server ] && [ "$(id -u)" = 0 ]; then
  # Debian's /usr/sbin/rabbitmq-server wrapper runs the broker under `su` as a child of this shell, PID 1, which
  # ignores SIGTERM: every stop waited out Docker's 10 s and killed the broker. Drop to the rabbitmq user here
  # and exec the broker's own script, which stops the broker cleanly on SIGTERM.
  cd /var/lib/rabbitmq
  export HOME=/var/lib/rabbitmq USER=rabbitmq LOGNAME=rabbitmq
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server
fi
exec "$@"
