#!/bin/bash
# The etcdform demo: a real 3-member etcd cluster on 3 hosts (network
# namespaces with sshd and runit), then plan and apply against it.
# Usage: examples/demo.sh BIN LABDIR   (run as root; `make demo` does it)
set -euo pipefail
BIN=${1:-bin/etcdform}
DIR=${2:-.lab}
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
cleanup() { step "etcdform lab down"; "$BIN" lab down --dir "$DIR" || true; }
"$BIN" lab down --dir "$DIR" >/dev/null 2>&1 || true
trap cleanup EXIT
step "etcdform lab up --dir $DIR"
time "$BIN" lab up --dir "$DIR"
step "etcdform lab status"
"$BIN" lab status --dir "$DIR"
step "cat $DIR/lab.hcl"
cat "$DIR/lab.hcl"
if "$BIN" validate -h >/dev/null 2>&1; then
  step "etcdform validate $DIR/lab.hcl"
  "$BIN" validate "$DIR/lab.hcl"
fi
if "$BIN" plan -h >/dev/null 2>&1; then
  step "etcdform plan (a fresh lab is converged: no changes)"
  "$BIN" plan --detailed-exitcode "$DIR/lab.hcl" && echo "(exit 0: no changes)"
  step "raise the quota to 4GiB in a copy of lab.hcl and plan it"
  mkdir -p "$DIR/demo"
  cp "$DIR/lab.hcl" "$DIR/demo/lab.hcl"
  ln -sf ../id_ed25519 "$DIR/demo/id_ed25519"; ln -sf ../known_hosts "$DIR/demo/known_hosts"
  sed -i 's/^  service {/  storage {\n    quota_backend_bytes = "4GiB"\n  }\n\n  service {/' "$DIR/demo/lab.hcl"
  set +e
  "$BIN" plan --detailed-exitcode --out "$DIR/demo/quota.plan" "$DIR/demo"
  code=$?
  set -e
  echo "(exit $code: 2 means changes pending)"
  if "$BIN" apply -h >/dev/null 2>&1 && [ "$code" = 2 ]; then
    step "etcdform apply --auto-approve $DIR/demo/quota.plan"
    time "$BIN" apply --auto-approve --snapshot-dir "$DIR/demo/snapshots" --audit-log "$DIR/demo/audit.jsonl" "$DIR/demo/quota.plan"
    step "etcdform plan again: converged"
    "$BIN" plan --detailed-exitcode "$DIR/demo" && echo "(exit 0: no changes)"
  fi
fi
