#!/bin/sh
# Installs gitlab-ci-local VERSION into DIR with npm, for make test-pipeline.
# Where Node.js or npm is missing it installs Debian's (root only); it needs
# Node.js >= 18 and rsync.
set -eu
version=$1
dir=$2
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "etcdform: installing Node.js and npm from Debian for gitlab-ci-local" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "etcdform: make test-pipeline needs Node.js >= 18 and npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "etcdform: gitlab-ci-local needs Node.js >= 18; this is $(node --version)" >&2
  exit 1
fi
command -v rsync >/dev/null 2>&1 || { echo "etcdform: make test-pipeline needs rsync (make deps installs it)" >&2; exit 1; }
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund "gitlab-ci-local@$version"
