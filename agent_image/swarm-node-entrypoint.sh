#!/bin/sh
# Start a node's engine. The node runs with a list of capabilities, not --privileged (the host engine may lack
# one, e.g. CAP_SYS_RESOURCE, and then refuses privileged containers), so the runtime mounted /sys and the cgroup
# hierarchies read-only: make them writable, or the node's engine cannot create its containers' cgroups.
set -eu
mount -o remount,bind,rw /sys 2>/dev/null || true
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  mount -o remount,bind,rw "$d" 2>/dev/null || true
done
# Plain TCP on the node's own network: only the test's bridge network reaches it.
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false "$@"
