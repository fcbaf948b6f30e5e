#!/usr/bin/env bash
# A real Kubernetes control plane without Docker: etcd + kube-apiserver + kube-controller-manager
# (from `make tools`) on free loopback ports, the way envtest runs them, plus the controllers that
# make namespace teardown, owner-reference garbage collection and disruption budgets real. No
# scheduler and no kubelet: pods never run. Used by the test harness and by `make demo`.
#
#   hack/control-plane.sh start DIR   # starts all three, waits until ready, writes DIR/kubeconfig
#   hack/control-plane.sh stop DIR    # stops them and removes DIR
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

kubeconfig() { # user token -> a kubeconfig for this control plane on stdout
  cat <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $dir/pki/apiserver.crt
users:
- name: $1
  user:
    token: $2
contexts:
- name: local
  context:
    cluster: local
    user: $1
    namespace: default
current-context: local
KC
}

start() {
  for t in etcd kube-apiserver kube-controller-manager kubectl; do
    [ -x "$bin/$t" ] || { echo "$bin/$t is missing: run 'make tools'" >&2; exit 1; }
  done
  mkdir -p "$dir/pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/sa.ec" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$dir/sa.ec" -out "$dir/sa.key"
  openssl ec -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  local token kcm_token; token=admin-$(openssl rand -hex 16); kcm_token=kcm-$(openssl rand -hex 16)
  # The controller manager has its own credentials. With one identity for all its controllers
  # (--use-service-account-credentials=false) the namespace controller must be able to delete any
  # resource, custom ones included, hence system:masters.
  {
    echo "$token,admin,admin,\"system:masters\""
    echo "$kcm_token,system:kube-controller-manager,kcm,\"system:masters\""
  } >"$dir/tokens.csv"

  local etcd_port peer_port api_port kcm_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); kcm_port=$(free_port)
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

  kubeconfig admin "$token" >"$dir/kubeconfig"
  local k="$bin/kubectl --kubeconfig $dir/kubeconfig"
  wait_for "kube-apiserver /readyz" 90 $k get --raw /readyz
  # The default namespace and the RBAC bootstrap roles come from post-start hooks.
  wait_for "default namespace" 60 $k get namespace default

  kubeconfig kcm "$kcm_token" >"$dir/kcm.kubeconfig"
  # Only what the suite needs: namespace deletion that finishes, garbage collection of objects
  # whose owner is gone, and PodDisruptionBudget status (which the eviction API enforces). No
  # controller creates pods. Its serving certificate is self-signed into DIR/kcm.
  "$bin/kube-controller-manager" --kubeconfig="$dir/kcm.kubeconfig" \
    --controllers=namespace,garbagecollector,disruption --use-service-account-credentials=false \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$dir/kcm" \
    >"$dir/kube-controller-manager.log" 2>&1 &
  echo $! >"$dir/kube-controller-manager.pid"
  wait_for "kube-controller-manager /healthz" 60 curl -skf "https://127.0.0.1:$kcm_port/healthz"
  echo "control plane ready: https://127.0.0.1:$api_port (kubeconfig $dir/kubeconfig)"
}

stop() {
  for p in kube-controller-manager kube-apiserver etcd; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  sleep 1
  for p in kube-controller-manager kube-apiserver etcd; do
    [ -f "$dir/$p.pid" ] && kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: control-plane.sh start|stop DIR" >&2; exit 2 ;;
esac
