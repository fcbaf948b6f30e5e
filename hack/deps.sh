#!/usr/bin/env bash
# Installs the Debian packages the tests run for real: a Lua interpreter for the Argo CD health
# check and promtool for the metrics exposition. Idempotent: does nothing when both are present.
set -euo pipefail

need=()
command -v lua5.4 >/dev/null 2>&1 || need+=(lua5.4)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
