#!/usr/bin/env bash
# Smoke test of the images deploy/images/build.sh made (`./fleet images smoke`, run by .ci/run):
#  1. reads each OCI archive: index -> manifest -> config, and checks the config (entrypoint,
#     user, exposed port, environment, OCI labels and annotations);
#  2. unpacks each image's layers into a root filesystem;
#  3. starts the embedded stack (Kafka, PostgreSQL, S3 from Maven artifacts; `./fleet stack`);
#  4. runs each image's entrypoint as the image's user in a private mount namespace, chrooted
#     into its root filesystem mounted READ-ONLY, with only /tmp writable (a tmpfs), /proc and
#     /dev — what Kubernetes gives a container with readOnlyRootFilesystem and an emptyDir /tmp;
#  5. waits for the gateway's and the worker's /q/health/ready, submits a job of the bundled
#     model through the gateway's API, waits for SUCCEEDED and downloads the PNG through the
#     presigned S3 link the gateway hands out.
# Needs root (mount namespaces, chroot) — it fails, naming why, otherwise — plus jq and curl
# (installed with apt-get when missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=images.env
source deploy/images/images.env
OUT="${FLEET_IMAGES_DIR:-$ROOT/deploy/target/images}"
SMOKE="$ROOT/deploy/target/images-smoke"
POM_VERSION="$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -1)"
VERSION="${POM_VERSION%-SNAPSHOT}"
GATEWAY_TAG="$VERSION"
WORKER_TAG="$VERSION-$WORKER_CPU_FLAVOR"
GATEWAY_ARCHIVE="$OUT/${GATEWAY_REPOSITORY//\//-}-$GATEWAY_TAG.oci.tar"
WORKER_ARCHIVE="$OUT/${WORKER_REPOSITORY//\//-}-$WORKER_TAG.oci.tar"

t0=$(date +%s)
step() { echo "smoke: [$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "the image smoke test needs root (it mounts the images' root filesystems read-only in a private mount namespace and chroots into them); run it as root"
for tool in jq curl; do
  if ! command -v "$tool" >/dev/null; then
    command -v apt-get >/dev/null || fail "$tool is missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool" >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool" >/dev/null; } \
      || fail "could not install $tool"
  fi
done
[[ -n "${JAVA_HOME:-}" ]] || fail "JAVA_HOME is not set (./fleet images smoke sets it)"
for a in "$GATEWAY_ARCHIVE" "$WORKER_ARCHIVE"; do
  [[ -f "$a" ]] || fail "$a is missing: build the images first (./fleet images)"
done

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$SMOKE"
mkdir -p "$SMOKE"

# --- 1./2. config and root filesystem of each archive ----------------------------------------
blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }
# unpack ARCHIVE DIR: leaves DIR/oci (the layout), DIR/config.json, DIR/manifest.json, DIR/rootfs
unpack() {
  local archive="$1" dir="$2" manifest config layer mt
  mkdir -p "$dir/oci" "$dir/rootfs"
  tar -xf "$archive" -C "$dir/oci"
  [[ "$(jq -r .imageLayoutVersion "$dir/oci/oci-layout")" == 1.0.0 ]] || fail "$archive: not an OCI layout"
  [[ "$(jq '.manifests | length' "$dir/oci/index.json")" == 1 ]] || fail "$archive: expected one manifest"
  manifest="$(jq -r '.manifests[0].digest' "$dir/oci/index.json")"
  cp "$(blob "$dir/oci" "$manifest")" "$dir/manifest.json"
  jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$dir/oci/index.json" > "$dir/ref-name"
  [[ "$(jq -r .mediaType "$dir/manifest.json")" == application/vnd.oci.image.manifest.v1+json ]] || fail "$archive: not an OCI manifest"
  config="$(jq -r .config.digest "$dir/manifest.json")"
  cp "$(blob "$dir/oci" "$config")" "$dir/config.json"
  while read -r layer mt; do
    if tar -tf "$(blob "$dir/oci" "$layer")" | grep -q '\.wh\.'; then fail "$archive: layer $layer has whiteouts (not expected)"; fi
    tar -xf "$(blob "$dir/oci" "$layer")" -C "$dir/rootfs"
  done < <(jq -r '.layers[] | "\(.digest) \(.mediaType)"' "$dir/manifest.json")
}

# expect DIR JQ-EXPRESSION WHAT: the expression on config.json must be true
expect() {
  jq -e "$2" "$1/config.json" >/dev/null || fail "$(basename "$1") image config: $3 (config: $(jq -c '.config' "$1/config.json"))"
}
check_config() {
  local dir="$1" repo="$2" tag="$3" port="$4" name
  name="$(basename "$dir")"
  [[ "$(cat "$dir/ref-name")" == "$repo:$tag" ]] || fail "$name: the archive names $(cat "$dir/ref-name"), expected $repo:$tag"
  expect "$dir" '.architecture == "amd64" and .os == "linux"' "linux/amd64"
  expect "$dir" '.config.Entrypoint[0] == "/opt/java/bin/java" and (.config.Entrypoint | index(["-jar","/app/quarkus-run.jar"]) != null)' "entrypoint runs /opt/java/bin/java -jar /app/quarkus-run.jar"
  expect "$dir" ".config.User == \"$IMAGE_UID:$IMAGE_UID\"" "runs as $IMAGE_UID:$IMAGE_UID (non-root)"
  expect "$dir" ".config.ExposedPorts == {\"$port/tcp\": {}}" "exposes $port/tcp only"
  expect "$dir" '.config.WorkingDir == "/app"' "working directory /app"
  expect "$dir" '.config.Env | index("JAVA_HOME=/opt/java") != null and index("QUARKUS_HTTP_HOST=0.0.0.0") != null' "sets JAVA_HOME and QUARKUS_HTTP_HOST"
  expect "$dir" "(.config.Labels[\"org.opencontainers.image.version\"] == \"$tag\") and (.config.Labels | has(\"org.opencontainers.image.source\") and has(\"org.opencontainers.image.licenses\") and has(\"org.opencontainers.image.revision\") and has(\"org.opencontainers.image.created\"))" "OCI labels source, version, revision, created, licenses"
  jq -e "(.annotations[\"org.opencontainers.image.version\"] == \"$tag\") and (.annotations | has(\"org.opencontainers.image.source\") and has(\"org.opencontainers.image.licenses\"))" "$dir/manifest.json" >/dev/null \
    || fail "$name: manifest annotations lack org.opencontainers.image.{source,version,licenses}: $(jq -c .annotations "$dir/manifest.json")"
  [[ -z "$(find "$dir/rootfs" -xdev \( -perm -4000 -o -perm -2000 \) -type f)" ]] || fail "$name: set-uid/set-gid files in the image"
  [[ -z "$(find "$dir/rootfs" -xdev ! -user 0)" ]] || fail "$name: files not owned by root (the user could change them)"
  echo "smoke:   $name: $repo:$tag, $(jq -r '.layers | length' "$dir/manifest.json") layers, $(jq '[.layers[].size] | add / 1048576 | floor' "$dir/manifest.json") MiB compressed, $(du -sm "$dir/rootfs" | cut -f1) MiB unpacked; entrypoint $(jq -c .config.Entrypoint "$dir/config.json"), user $(jq -r .config.User "$dir/config.json"), port $port"
}

step "reading and unpacking $(basename "$GATEWAY_ARCHIVE") and $(basename "$WORKER_ARCHIVE") ..."
unpack "$GATEWAY_ARCHIVE" "$SMOKE/gateway"
unpack "$WORKER_ARCHIVE" "$SMOKE/worker"
check_config "$SMOKE/gateway" "$GATEWAY_REPOSITORY" "$GATEWAY_TAG" 8080
check_config "$SMOKE/worker" "$WORKER_REPOSITORY" "$WORKER_TAG" 8081
expect "$SMOKE/worker" '.config.Env | index("FLEET_WORKER_MODEL_DIR=/models/flux-shapes") != null and index("FLEET_WORKER_DEVICE=cpu") != null and index("DJL_CACHE_DIR=/opt/djl") != null' "worker env names the bundled model, the CPU and DJL's cache"
[[ -f "$SMOKE/worker/rootfs/models/flux-shapes/README.md" ]] || fail "worker: the bundled model is not in /models/flux-shapes"
[[ "$(jq -r '.layers[0].digest' "$SMOKE/gateway/manifest.json")" == "$(jq -r '.layers[0].digest' "$SMOKE/worker/manifest.json")" ]] \
  || fail "the two images' base layers differ (they should be one shared layer)"

# --- 3. the embedded stack ----------------------------------------------------------------
free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 20000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
step "starting the embedded stack (Kafka, PostgreSQL, S3) ..."
./fleet stack --data "$SMOKE/stack" --kafka-port 0 --postgres-port 0 --s3-port 0 > "$SMOKE/stack.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 120); do
  grep -q '^stack ready' "$SMOKE/stack.log" && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$SMOKE/stack.log" >&2; fail "the stack did not start"; }
  sleep 1
done
grep -q '^stack ready' "$SMOKE/stack.log" || { cat "$SMOKE/stack.log" >&2; fail "the stack was not ready in 120 s"; }
endpoint() { sed -n "s/^$1: //p" "$SMOKE/stack.log" | head -1; }
STACK_ENV=(
  "KAFKA_BOOTSTRAP_SERVERS=$(endpoint kafka.bootstrap.servers)"
  "QUARKUS_DATASOURCE_JDBC_URL=$(endpoint jdbc.url)"
  "QUARKUS_DATASOURCE_USERNAME=$(endpoint jdbc.user)"
  "QUARKUS_DATASOURCE_PASSWORD=$(endpoint jdbc.password)"
  "FLEET_S3_ENDPOINT=$(endpoint s3.endpoint)"
  "FLEET_S3_ACCESS_KEY=$(endpoint s3.access-key)"
  "FLEET_S3_SECRET_KEY=$(endpoint s3.secret-key)"
  "FLEET_S3_BUCKET=$(endpoint s3.bucket)"
)
echo "smoke:   ${STACK_ENV[0]} ${STACK_ENV[1]} ${STACK_ENV[4]}"

# --- 4. each image's entrypoint in its read-only root filesystem ---------------------------
# run_image DIR PORT LOG: the entrypoint + cmd with the image's env, user and working directory,
# plus the stack's endpoints and the port; in the background (its pid is appended to PIDS).
run_image() {
  local dir="$1" port="$2" logfile="$3" rootfs="$1/rootfs" user uid gid wd
  local -a env cmd
  mapfile -t env < <(jq -r '.config.Env[]' "$dir/config.json")
  mapfile -t cmd < <(jq -r '(.config.Entrypoint // []) + (.config.Cmd // []) | .[]' "$dir/config.json")
  user="$(jq -r .config.User "$dir/config.json")"; uid="${user%%:*}"; gid="${user#*:}"
  wd="$(jq -r '.config.WorkingDir // "/"' "$dir/config.json")"
  # The outer unshare makes a private mount namespace (gone with the process); inside it the
  # root filesystem is bound read-only, /tmp is a tmpfs, then the inner unshare chroots, changes
  # directory and user, and execs the entrypoint (same pid all along).
  env -i "${env[@]}" "${STACK_ENV[@]}" "QUARKUS_HTTP_PORT=$port" \
    unshare --mount --propagation private -- /bin/bash -c '
      set -e
      r="$1"; uid="$2"; gid="$3"; wd="$4"; shift 4
      mount --bind "$r" "$r"
      mount -o remount,bind,ro "$r"
      mount -t proc proc "$r/proc"
      mount --rbind /dev "$r/dev"
      mount -t tmpfs -o mode=1777,size=1g tmpfs "$r/tmp"
      exec /usr/bin/unshare --root="$r" --wd="$wd" --setgid="$gid" --setuid="$uid" -- "$@"
    ' smoke "$rootfs" "$uid" "$gid" "$wd" "${cmd[@]}" > "$logfile" 2>&1 &
  PIDS+=($!)
}
await_ready() { # NAME PORT LOG PID SECONDS
  local i
  for i in $(seq 1 "$5"); do
    if curl -fsS -m 2 "http://127.0.0.1:$2/q/health/ready" >/dev/null 2>&1; then
      step "$1 ready: $(curl -sS -m 2 "http://127.0.0.1:$2/q/health/ready" | jq -c '{status, checks: [.checks[] | "\(.name)=\(.status)"]}')"
      return
    fi
    kill -0 "$4" 2>/dev/null || { tail -40 "$3" >&2; fail "$1 exited before it was ready (log: $3)"; }
    sleep 1
  done
  tail -40 "$3" >&2
  fail "$1 not ready within $5 s (log: $3)"
}

GATEWAY_PORT=$(free_port); WORKER_PORT=$(free_port)
step "gateway: entrypoint of $GATEWAY_REPOSITORY:$GATEWAY_TAG, chrooted, read-only root, user $IMAGE_UID, :$GATEWAY_PORT ..."
run_image "$SMOKE/gateway" "$GATEWAY_PORT" "$SMOKE/gateway.log"
GATEWAY_PID=${PIDS[-1]}
step "worker: entrypoint of $WORKER_REPOSITORY:$WORKER_TAG, chrooted, read-only root, user $IMAGE_UID, :$WORKER_PORT ..."
run_image "$SMOKE/worker" "$WORKER_PORT" "$SMOKE/worker.log"
WORKER_PID=${PIDS[-1]}
await_ready gateway "$GATEWAY_PORT" "$SMOKE/gateway.log" "$GATEWAY_PID" 120
await_ready worker "$WORKER_PORT" "$SMOKE/worker.log" "$WORKER_PID" 180

# --- 5. one job end to end ------------------------------------------------------------------
API="http://127.0.0.1:$GATEWAY_PORT"
# An API key of a tenant of its own, made with the launcher's command against the stack's database
# (the gateway has created its tables by now).
step "creating an API key (./fleet keys create --jdbc-url ...) ..."
KEY="$(FLEET_DB_USER="$(endpoint jdbc.user)" FLEET_DB_PASSWORD="$(endpoint jdbc.password)" \
  ./fleet keys create --tenant smoke --name smoke --jdbc-url "$(endpoint jdbc.url)" 2>"$SMOKE/keys.log" | tail -1)"
[[ "$KEY" == fk_* ]] || { cat "$SMOKE/keys.log" >&2; fail "no API key was created"; }
AUTH=(-H "Authorization: Bearer $KEY")
step "submitting a job of the bundled model (flux-shapes) ..."
job="$(curl -fsS -m 10 -XPOST "$API/v1/jobs" "${AUTH[@]}" -H 'Content-Type: application/json' -H "Idempotency-Key: smoke-$$" \
  -d '{"prompt":"a large yellow square on a black background","seed":1}')" || fail "POST /v1/jobs refused"
id="$(jq -r .id <<<"$job")"
echo "smoke:   job $id: $(jq -c '{status, model: .spec.model, steps: .spec.steps, width: .spec.width, height: .spec.height}' <<<"$job")"
status=""
for _ in $(seq 1 180); do
  status="$(curl -fsS -m 5 "${AUTH[@]}" "$API/v1/jobs/$id" | jq -r .status)"
  case "$status" in SUCCEEDED|FAILED|CANCELLED|TIMED_OUT) break ;; esac
  sleep 1
done
[[ "$status" == SUCCEEDED ]] || { curl -sS "${AUTH[@]}" "$API/v1/jobs/$id" >&2; tail -40 "$SMOKE/worker.log" >&2; fail "job $id ended $status"; }
curl -fsS -m 5 "${AUTH[@]}" "$API/v1/jobs/$id" > "$SMOKE/job.json"
url="$(jq -r '.result.url' "$SMOKE/job.json")"
s3="$(endpoint s3.endpoint)"
[[ "$url" == "$s3"/* ]] || fail "the result link $url is not on the stack's S3 endpoint $s3"
curl -fsS -m 10 -o "$SMOKE/result.png" "$url" || fail "the image is not in S3 at $url"
[[ "$(head -c 8 "$SMOKE/result.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] || fail "what S3 holds is no PNG"
step "job $id SUCCEEDED ($(jq -r '"\(.plan.memoryClass), \(.progress.step)/\(.progress.steps) steps"' "$SMOKE/job.json")); its PNG ($(stat -c %s "$SMOKE/result.png") bytes, $SMOKE/result.png) came from S3: ${url%%\?*}"

# Read-only root: both processes wrote only to /tmp (the root filesystem was mounted read-only,
# so any other write would have failed); they stop cleanly on SIGTERM like in a pod.
kill -TERM "$GATEWAY_PID" "$WORKER_PID"
for pid in "$GATEWAY_PID" "$WORKER_PID"; do
  rc=0; wait "$pid" || rc=$?
  [[ $rc -eq 0 || $rc -eq 143 ]] || fail "an image's process exited $rc on SIGTERM"
done
rm -rf "$SMOKE"/{gateway,worker}/{rootfs,oci} # ~850 MB; kept when a step failed
step "passed: both images ran their entrypoints from read-only root filesystems and served a job end to end"
