#!/usr/bin/env bash
# Schema validation of the Helm chart's rendered objects (run by .ci/run after ./fleet test):
# FleetChartTest writes `helm template` of every helm/fleet/ci/ scenario to
# deploy/target/helm-rendered/; this checks each object against the Kubernetes 1.33 API schemas
# (npm kubernetes-models 4.5.1) and KEDA's ScaledObject CRD schema (@kubernetes-models/keda 0.4.2).
# Needs Node.js >= 18 and npm (installed with apt-get when missing and root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
RENDERED=../../deploy/target/helm-rendered
fail() { echo "schema: FAILED: $*" >&2; exit 1; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "schema: installing nodejs and npm (apt-get) ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null
  else
    fail "node and npm are missing (install Node.js >= 18)"
  fi
fi
shopt -s nullglob
files=("$RENDERED"/*.yaml)
(( ${#files[@]} > 0 )) || fail "no rendered chart in deploy/target/helm-rendered: run the chart's tests first (./fleet test, or ./mvnw -pl deploy test -Dtest=FleetChartTest)"
[[ -d node_modules/kubernetes-models ]] || npm ci --no-audit --no-fund --loglevel=error >&2
node validate.mjs "${files[@]}"
