#!/usr/bin/env bash
# Builds (once) the real tools the tests use -- kube-apiserver, kube-controller-manager (namespace
# teardown and garbage collection), kubectl, etcd, helm, kube-state-metrics (the chart's
# custom-resource-state configuration) -- from the Go
# module proxy, caches them by version under ~/.cache/uc-operator/tools and links them into bin/.
# Release binaries cannot be downloaded on our machines; the Go module proxy can be reached.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.21.4}
KSM_VERSION=${KSM_VERSION:-v2.20.0}

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${UC_TOOLS_CACHE:-$HOME/.cache/uc-operator}
tools=$cache/tools
mkdir -p "$tools" "$root/bin"

export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
export GOFLAGS=-mod=mod GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}

k8s_minor=$(echo "$K8S_VERSION" | cut -d. -f2)
staging_version="v0.${K8S_VERSION#v1.}"

# A throwaway module per tool: the work dir is kept in the cache so rebuilds reuse go.sum.
module() { # name -> prints a fresh module dir
  local d=$cache/work/$1
  rm -rf "$d" && mkdir -p "$d" && echo "$d"
}

build_k8s() {
  local out=$tools/kubernetes-$K8S_VERSION
  [ -x "$out/kube-apiserver" ] && [ -x "$out/kubectl" ] && [ -x "$out/kube-controller-manager" ] && return
  echo "building kube-apiserver, kube-controller-manager and kubectl $K8S_VERSION (minutes on a cold cache)" >&2
  local d; d=$(module kubernetes)
  local gomod
  gomod=$(cd "$d" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  {
    echo "module uctools"
    echo "go 1.24"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    # k8s.io/kubernetes requires its staging modules at v0.0.0 with local replaces that Go ignores in
    # a dependency: point every one of them at the matching published version.
    grep -E '^\s*k8s.io/[a-z0-9-]+ v0\.0\.0\s*$' "$gomod" | awk '{print $1}' | sort -u |
      while read -r m; do echo "replace $m => $m $staging_version"; done
  } >"$d/go.mod"
  cat >"$d/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$k8s_minor"
  (cd "$d" && go mod tidy -e >/dev/null 2>&1 || true
   mkdir -p "$out.tmp"
   go build -trimpath -ldflags "$ldflags" -o "$out.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
   go build -trimpath -ldflags "$ldflags" -o "$out.tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
   go build -trimpath -ldflags "$ldflags" -o "$out.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_etcd() {
  local out=$tools/etcd-$ETCD_VERSION
  [ -x "$out/etcd" ] && return
  echo "building etcd $ETCD_VERSION" >&2
  local d; d=$(module etcd)
  cat >"$d/go.mod" <<GO
module uctools/etcd
go 1.24
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GO
  cat >"$d/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$d" && go mod tidy && mkdir -p "$out.tmp" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" .)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_helm() {
  local out=$tools/helm-$HELM_VERSION
  [ -x "$out/helm" ] && return
  echo "building helm $HELM_VERSION" >&2
  local d; d=$(module helm)
  local v="-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  (cd "$d" && GOBIN="$out.tmp" go install -trimpath -ldflags "-s -w $v" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_ksm() {
  local out=$tools/kube-state-metrics-$KSM_VERSION
  [ -x "$out/kube-state-metrics" ] && return
  echo "building kube-state-metrics $KSM_VERSION" >&2
  local d; d=$(module kube-state-metrics)
  local v="-X github.com/prometheus/common/version.Version=${KSM_VERSION#v}"
  (cd "$d" && GOBIN="$out.tmp" go install -trimpath -ldflags "-s -w $v" "k8s.io/kube-state-metrics/v2@$KSM_VERSION")
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_etcd
build_helm
build_k8s
build_ksm

ln -sf "$tools/kubernetes-$K8S_VERSION/kube-apiserver" "$root/bin/kube-apiserver"
ln -sf "$tools/kubernetes-$K8S_VERSION/kube-controller-manager" "$root/bin/kube-controller-manager"
ln -sf "$tools/kubernetes-$K8S_VERSION/kubectl" "$root/bin/kubectl"
ln -sf "$tools/etcd-$ETCD_VERSION/etcd" "$root/bin/etcd"
ln -sf "$tools/helm-$HELM_VERSION/helm" "$root/bin/helm"
ln -sf "$tools/kube-state-metrics-$KSM_VERSION/kube-state-metrics" "$root/bin/kube-state-metrics"
printf '%-15s %s\n' kube-apiserver "$("$root/bin/kube-apiserver" --version)" >&2
printf '%-15s %s\n' kube-controller-manager "$("$root/bin/kube-controller-manager" --version)" >&2
printf '%-15s %s\n' kubectl "$("$root/bin/kubectl" version --client 2>/dev/null | head -1)" >&2
printf '%-15s %s\n' etcd "$("$root/bin/etcd" --version | head -1)" >&2
printf '%-15s %s\n' helm "$("$root/bin/helm" version --short)" >&2
printf '%-15s %s\n' kube-state-metrics "$("$root/bin/kube-state-metrics" version 2>&1 | head -1)" >&2
