#!/usr/bin/env bash
# Makes a Docker daemon and a base image with CPython available to the Docker tests:
#  1. installs docker.io and debootstrap with apt when they are missing (needs root);
#  2. starts dockerd (vfs storage driver, log in .cache/docker/dockerd.log) when no daemon answers;
#  3. imports nx-pex-test-python:bookworm, a minimal Debian bookworm with python3 made by
#     debootstrap (no registry is needed), from .cache/docker/bookworm-python3.tar, making that
#     tarball first when it is missing.
# Exits 0 with a printed reason when any step is impossible here (not root, no apt, no daemon);
# the Docker tests then skip and say why.
set -uo pipefail
cd "$(dirname "$0")/../.."
CACHE=.cache/docker
IMAGE=nx-pex-test-python:bookworm
TARBALL=$CACHE/bookworm-python3.tar
mkdir -p "$CACHE"

say() { echo "tools/docker/start.sh: $*" >&2; }
skip() { say "$* (the Docker tests will skip)"; exit 0; }

docker_cli() {
  # The distribution's client matches its daemon; prefer it over another client on PATH.
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "dockerd or debootstrap is missing and installing them needs root"
  command -v apt-get >/dev/null 2>&1 || skip "dockerd or debootstrap is missing and there is no apt-get"
  say "installing docker.io and debootstrap"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap) >"$CACHE/apt.log" 2>&1 \
    || skip "apt-get install docker.io debootstrap failed (see $CACHE/apt.log)"
fi

if ! docker_cli info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "no Docker daemon answers and starting one needs root"
  say "starting dockerd (log: $CACHE/dockerd.log)"
  setsid dockerd --storage-driver=vfs >>"$CACHE/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker_cli info >/dev/null 2>&1 && break
    sleep 1
  done
  docker_cli info >/dev/null 2>&1 || skip "dockerd did not start (see $CACHE/dockerd.log)"
fi

# The root file system tarball is wanted on its own too (the OCI image tests make their base from
# it): when the daemon has the image already, it is exported from it; otherwise made by debootstrap.
if [ ! -s "$TARBALL" ] && docker_cli image inspect "$IMAGE" >/dev/null 2>&1; then
  cid=$(docker_cli create "$IMAGE" /bin/true) \
    && docker_cli export -o "$TARBALL.part" "$cid" && mv "$TARBALL.part" "$TARBALL"
  [ -n "${cid:-}" ] && docker_cli rm "$cid" >/dev/null 2>&1
fi

if ! docker_cli image inspect "$IMAGE" >/dev/null 2>&1; then
  if [ ! -s "$TARBALL" ]; then
    [ "$(id -u)" = 0 ] || skip "making the base image with debootstrap needs root"
    ROOTFS=$(mktemp -d /tmp/nx-pex-bookworm.XXXXXX)
    say "debootstrap bookworm with python3 into $ROOTFS (about a minute)"
    if ! debootstrap --variant=minbase --include=python3 bookworm "$ROOTFS" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1; then
      rm -rf "$ROOTFS"
      skip "debootstrap failed (see $CACHE/debootstrap.log)"
    fi
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    tar -C "$ROOTFS" -cf "$TARBALL.part" . && mv "$TARBALL.part" "$TARBALL"
    rm -rf "$ROOTFS"
  fi
  say "importing $IMAGE from $TARBALL"
  docker_cli import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$TARBALL" "$IMAGE" >/dev/null \
    || skip "docker import of $TARBALL failed"
fi
say "Docker is ready; base image $IMAGE"
