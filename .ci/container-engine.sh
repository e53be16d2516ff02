# Sourced by .ci/run: Podman behind its Docker-compatible socket, for testcontainers.
# Starts the API service (remembering its PID, so .ci/run ends exactly that process), and
# makes the base image the Containerfile names when no registry can provide it: a root file
# system with this machine's Node 20 and the libraries it links, imported under that tag.

export CONTAINERS_CONF="$PWD/.ci/containers.conf"
PODMAN_SOCKET=/run/podman/podman.sock
PODMAN_SERVICE_PID=

podman_answers() { curl -sf --max-time 2 --unix-socket "$PODMAN_SOCKET" http://podman/_ping >/dev/null 2>&1; }

start_container_engine() {
  mkdir -p "$(dirname "$PODMAN_SOCKET")"
  if ! podman_answers; then
    podman system service --time=0 "unix://$PODMAN_SOCKET" >/tmp/flashlab-podman-service.log 2>&1 &
    PODMAN_SERVICE_PID=$!
    for _ in $(seq 1 100); do podman_answers && break; sleep 0.1; done
    podman_answers || { echo "podman API service did not start:"; cat /tmp/flashlab-podman-service.log; return 1; }
  fi
  export DOCKER_HOST="unix://$PODMAN_SOCKET"
  export TESTCONTAINERS_RYUK_DISABLED=true   # the ryuk image cannot be pulled here
  export FLASHLAB_REQUIRE_CONTAINERS=1       # in CI a missing engine fails the container tests
  if ! podman image exists node:20-bookworm-slim; then make_base_image; fi
}

stop_container_engine() {
  if [ -n "$PODMAN_SERVICE_PID" ]; then kill "$PODMAN_SERVICE_PID" 2>/dev/null || true; fi
}

make_base_image() {
  local node rootfs lib
  node="$(readlink -f "$(command -v node)")"
  rootfs="$(mktemp -d)"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cp "$node" "$rootfs/usr/local/bin/node"
  for lib in $(ldd "$node" | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
  echo 'root:x:0:' > "$rootfs/etc/group"
  tar -C "$rootfs" -c . | podman import -q - localhost/node:20-bookworm-slim >/dev/null
  rm -rf "$rootfs"
  echo "made base image node:20-bookworm-slim from $node ($("$node" --version))"
}
