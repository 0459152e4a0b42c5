#!/bin/bash
# A vmres `command` provider that drives docker (the tests' dockerd, through DOCKER_HOST):
# one executable, the step as its first argument, as docs/provisioned-pools.md describes.
# Every step is idempotent. VMRES_TEST_STALL_DIR/<step> makes that step hang after its
# work is done (touching <step>.reached first) until that file is removed, so a test can kill
# vmres mid-step; the script then ends by itself (nobody reads its output any more).
set -euo pipefail
step=$1
shift
repo=${VMRES_TEST_IMAGE_REPO:-vmres-test-cmd-saved}
stall() {
  if [ -n "${VMRES_TEST_STALL_DIR:-}" ] && [ -e "$VMRES_TEST_STALL_DIR/$1" ]; then
    touch "$VMRES_TEST_STALL_DIR/$1.reached"
    while [ -e "$VMRES_TEST_STALL_DIR/$1" ]; do sleep 0.2; done
  fi
}
exists() { docker container inspect "$1" >/dev/null 2>&1; }
case "$step" in
  create)
    name=$1 source=$2 pool=$3
    if ! exists "$name"; then
      docker create --name "$name" --hostname "$name" --label "vmres.instance=$name" --label "vmres.pool=$pool" "$source" >/dev/null
    fi
    docker start "$name" >/dev/null
    stall create
    id=$(docker container inspect -f '{{.Id}}' "$name")
    ip=$(docker container inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
    printf '{"ref":"%s","ip":"%s","sshUser":"root","sshPort":22}\n' "$id" "$ip"
    ;;
  start) docker start "$1" >/dev/null ;;
  stop) if exists "$1"; then docker stop -t 5 "$1" >/dev/null; fi ;;
  delete) if exists "$1"; then docker rm --force --volumes "$1" >/dev/null; fi ;;
  save_image)
    ref=$1 name=$2
    if ! docker image inspect "$repo:$name" >/dev/null 2>&1; then docker commit "$ref" "$repo:$name" >/dev/null; fi
    stall save_image
    printf '{"ref":"%s"}\n' "$repo:$name"
    ;;
  delete_image) if docker image inspect "$1" >/dev/null 2>&1; then docker rmi --force "$1" >/dev/null; fi ;;
  list)
    docker container ls --all --filter "label=vmres.pool=$1" --format '{{.Label "vmres.instance"}} {{.ID}}' |
      awk 'BEGIN { printf "[" } { printf "%s{\"name\":\"%s\",\"ref\":\"%s\"}", (NR > 1 ? "," : ""), $1, $2 } END { print "]" }'
    ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
esac
