#!/usr/bin/env bash
# A CI job on a vmres VM: check one out, use it, always check it in.
# Needs curl, jq, VMRES_URL and VMRES_TOKEN (a service's token: an admin runs
# `vmres people add ci-nightly --service` and `vmres token create --user ci-nightly`).
set -euo pipefail
api="$VMRES_URL/v1"
auth="Authorization: Bearer $VMRES_TOKEN"
key="$(cat /proc/sys/kernel/random/uuid)"   # the same key on curl's retries: one checkout, never two

# Waits up to 10 minutes for a free VM of the pool; leased for 1 hour.
vm=$(curl --fail-with-body -sS --retry 3 --retry-connrefused -X POST "$api/checkouts" \
  -H "$auth" -H "Content-Type: application/json" -H "Idempotency-Key: $key" \
  -d "{\"pool\": \"${VMRES_POOL:-linux}\", \"for\": \"1h\", \"wait\": \"${VMRES_WAIT:-10m}\", \"note\": \"CI job ${CI_JOB_ID:-local}\"}")
id=$(jq -r .id <<<"$vm")
# Whatever happens from here on, the VM goes back.
trap 'curl --fail-with-body -sS --retry 3 --retry-connrefused -X DELETE "$api/checkouts/$id" -H "$auth" -H "Idempotency-Key: checkin-$id" >/dev/null' EXIT

echo "testing on $(jq -r .vm <<<"$vm") ($(jq -r .ssh <<<"$vm"))"
ssh -o StrictHostKeyChecking=accept-new -p "$(jq -r .sshPort <<<"$vm")" "$(jq -r .sshUser <<<"$vm")@$(jq -r .ip <<<"$vm")" ./run-tests.sh
