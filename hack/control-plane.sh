#!/usr/bin/env bash
# A real Kubernetes control plane without Docker: etcd + kube-apiserver (from `make tools`) on
# free loopback ports, the way envtest runs them. Used by the test harness and by `make demo`.
#
#   hack/control-plane.sh start DIR   # starts both, waits until ready, writes DIR/kubeconfig
#   hack/control-plane.sh stop DIR    # stops both and removes DIR
set -euo pipefail

cmd=${1:?usage: control-plane.sh start|stop DIR}
dir=${2:?usage: control-plane.sh start|stop DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # what, seconds, command...
  local what=$1 deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "$what not ready; last log lines:" >&2
      tail -n 20 "$dir"/*.log >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

start() {
  for t in etcd kube-apiserver kubectl; do
    [ -x "$bin/$t" ] || { echo "$bin/$t is missing: run 'make tools'" >&2; exit 1; }
  done
  mkdir -p "$dir/pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/sa.ec" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$dir/sa.ec" -out "$dir/sa.key"
  openssl ec -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  local token; token=admin-$(openssl rand -hex 16)
  echo "$token,admin,admin,\"system:masters\"" >"$dir/tokens.csv"

  local etcd_port peer_port api_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  "$bin/etcd" --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --unsafe-no-fsync=true \
    >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

  "$bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" --cert-dir="$dir/pki" \
    --secure-port="$api_port" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --disable-admission-plugins=ServiceAccount --authorization-mode=RBAC \
    --token-auth-file="$dir/tokens.csv" \
    --service-account-issuer="https://127.0.0.1:$api_port/" \
    --service-account-key-file="$dir/sa.pub" --service-account-signing-key-file="$dir/sa.key" \
    >"$dir/kube-apiserver.log" 2>&1 &
  echo $! >"$dir/kube-apiserver.pid"
  wait_for "kube-apiserver certificate" 60 test -s "$dir/pki/apiserver.crt"

  cat >"$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $dir/pki/apiserver.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: local
  context:
    cluster: local
    user: admin
    namespace: default
current-context: local
KC
  local k="$bin/kubectl --kubeconfig $dir/kubeconfig"
  wait_for "kube-apiserver /readyz" 90 $k get --raw /readyz
  # The default namespace and the RBAC bootstrap roles come from post-start hooks.
  wait_for "default namespace" 60 $k get namespace default
  echo "control plane ready: https://127.0.0.1:$api_port (kubeconfig $dir/kubeconfig)"
}

stop() {
  for p in kube-apiserver etcd; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  sleep 1
  for p in kube-apiserver etcd; do
    [ -f "$dir/$p.pid" ] && kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: control-plane.sh start|stop DIR" >&2; exit 2 ;;
esac
