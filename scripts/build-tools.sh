#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, etcd and helm from Go modules into a per-version cache (`make tools`).
#
# Nothing can be downloaded here except through package registries, so each tool is compiled from
# its Go module (via the Go module proxy) in a throw-away module under a temp folder, then moved
# into ${XDG_CACHE_HOME:-$HOME/.cache}/chaperone/tools/<tool>-<version>/<tool>. A binary that is
# already there is kept: the cache is keyed by version, so bumping a version below rebuilds only
# that tool. If KUBEBUILDER_ASSETS holds kube-apiserver, etcd and kubectl, those are used and only
# helm is built. test/harness/tools.ts finds the binaries the same way.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}   # k8s.io/kubernetes: kube-apiserver and kubectl
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}    # go.etcd.io/etcd/server/v3: its root package is etcd's main
HELM_VERSION=${HELM_VERSION:-v3.22.0}   # helm.sh/helm/v3: cmd/helm
TOOLS_DIR=${CHAPERONE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chaperone/tools}

export CGO_ENABLED=0
# -mod=mod lets `go build` add the requirements and go.sum lines the throw-away module lacks.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
# Other engineers benchmark on this small machine: compile at the lowest priority.
NICE=(nice -n 19)

command -v go >/dev/null || { echo "tools: go not found; install Go >= 1.26 (https://go.dev/dl) and retry" >&2; exit 1; }
mkdir -p "$TOOLS_DIR"
# Two `make tools` at once would compile everything twice; the second waits and then finds the cache.
exec 9>"$TOOLS_DIR/.lock"
flock 9

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chaperone-tools.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

cached_path() { echo "$TOOLS_DIR/$1-$2/$1"; }

report() { # tool what path
  local size; size=$(du -hL "$3" | cut -f1)
  echo "tools: $1 $2 at $3 ($size)"
}

# A fresh module in $WORK/<name> requiring <module>@<version>; prints its folder.
new_module() { # name module version
  local dir="$WORK/$1"
  mkdir -p "$dir"
  (cd "$dir" && go mod init "chaperone.local/tools/$1" >/dev/null 2>&1 && go mod edit -require="$2@$3")
  echo "$dir"
}

# Builds each tool=package into $WORK/out-<name>/ and moves the binaries into their cache folders
# only once every one of them is built, so a binary in the cache is always a finished one.
build_into_cache() { # name version ldflags tool=package...
  local name=$1 version=$2 ldflags=$3; shift 3
  local dir="$WORK/$name" out="$WORK/out-$name" pair
  mkdir -p "$out"
  for pair in "$@"; do
    local started=$SECONDS
    echo "tools: building ${pair#*=}@$version ..." >&2
    (cd "$dir" && "${NICE[@]}" go build -trimpath -ldflags="-s -w $ldflags" -o "$out/${pair%%=*}" "${pair#*=}")
    echo "tools: built ${pair%%=*} in $((SECONDS - started))s" >&2
  done
  for pair in "$@"; do
    mkdir -p "$TOOLS_DIR/${pair%%=*}-$version"
    mv -f "$out/${pair%%=*}" "$(cached_path "${pair%%=*}" "$version")"
  done
}

# k8s.io/kubernetes requires every staging module (api, apimachinery, client-go, ...) as v0.0.0 and
# replaces it with ./staging/src/k8s.io/<name>, which a dependent module cannot see. Each staging
# module is published as v0.<minor>.<patch> for kubernetes v1.<minor>.<patch>: replace with that.
kube_staging_replaces() {
  local gomod staging=v0.${KUBE_VERSION#v1.}
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || { echo "tools: cannot fetch k8s.io/kubernetes@$KUBE_VERSION's go.mod from $(go env GOPROXY)" >&2; exit 1; }
  # Only modules both required at v0.0.0 and replaced into ./staging (sample-* are replaced but
  # not required, and are not published at all).
  awk '$2 == "v0.0.0" { req[$1] = 1 } $2 == "=>" && $3 ~ /^\.\/staging\// && req[$1] { print $1 }' "$gomod" |
    while read -r mod; do echo "-replace=$mod=$mod@$staging"; done
}

build_kube() {
  local dir ver=${KUBE_VERSION#v} major minor
  major=${ver%%.*}; minor=${ver#*.}; minor=${minor%%.*}
  dir=$(new_module kube k8s.io/kubernetes "$KUBE_VERSION")
  local replaces; mapfile -t replaces < <(kube_staging_replaces)
  (cd "$dir" && go mod edit "${replaces[@]}")
  # Without these both binaries say v0.0.0-master; helm and kubectl compare versions with the server.
  local ld="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  build_into_cache kube "$KUBE_VERSION" "$ld" kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver kubectl=k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  new_module etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" >/dev/null
  # Since etcd 3.5 the server module's root package is etcd's main (the repo root module no longer is).
  build_into_cache etcd "$ETCD_VERSION" "" etcd=go.etcd.io/etcd/server/v3
}

build_helm() {
  new_module helm helm.sh/helm/v3 "$HELM_VERSION" >/dev/null
  build_into_cache helm "$HELM_VERSION" "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" helm=helm.sh/helm/v3/cmd/helm
}

# Builds <builder> unless every tool it makes is cached, then reports each tool.
ensure() { # builder tool:version...
  local builder=$1; shift
  local spec missing=0 how=cached
  for spec in "$@"; do [ -x "$(cached_path "${spec%%:*}" "${spec#*:}")" ] || missing=1; done
  if [ $missing = 1 ]; then "$builder"; how=built; fi
  for spec in "$@"; do report "${spec%%:*}" "${spec#*:} $how" "$(cached_path "${spec%%:*}" "${spec#*:}")"; done
}

assets=${KUBEBUILDER_ASSETS:-}
if [ -n "$assets" ] && [ -x "$assets/kube-apiserver" ] && [ -x "$assets/etcd" ] && [ -x "$assets/kubectl" ]; then
  for tool in kube-apiserver etcd kubectl; do report "$tool" "from KUBEBUILDER_ASSETS" "$assets/$tool"; done
else
  [ -z "$assets" ] || echo "tools: KUBEBUILDER_ASSETS=$assets lacks kube-apiserver, etcd or kubectl; building them" >&2
  ensure build_etcd "etcd:$ETCD_VERSION"
  ensure build_kube "kube-apiserver:$KUBE_VERSION" "kubectl:$KUBE_VERSION"
fi
ensure build_helm "helm:$HELM_VERSION"
