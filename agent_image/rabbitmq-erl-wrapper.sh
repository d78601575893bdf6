#!/bin/sh
# Installed as <erts>/bin/erl, the erl RabbitMQ runs for itself (`erl` on PATH is another copy of the real script).
# Every 60 s RabbitMQ's epmd monitor (rabbit_epmd_monitor, rabbit_nodes:ensure_epmd) boots a one-off Erlang VM,
# `erl -sname epmd-starter-N ... -s erlang halt`, only so that epmd runs: ~0.2 s of CPU a minute, about half of
# an idle broker's. `epmd -daemon` does the same in a millisecond (it exits at once when epmd already listens),
# and the monitor then registers the broker with it again, as before.
case " $* " in
  *" -sname epmd-starter-"*) exec "$(dirname "$0")/epmd" -daemon ;;
esac
exec /usr/lib/erlang/bin/erl "$@"
