#!/usr/bin/env bash
# Builds the fleet's container images as OCI archives, without Docker and without a registry:
#   deploy/target/images/fleet-api-gateway-<version>.oci.tar       fleet/api-gateway:<version>
#   deploy/target/images/fleet-gpu-worker-<version>-cpu.oci.tar    fleet/gpu-worker:<version>-cpu
# (`./fleet images` runs this after building the project.) Each image is three layers on no base
# image: (1) a Debian root filesystem of glibc, libstdc++ and zlib made by mmdebstrap from Debian's
# packages, a jlinked Java runtime and the non-root user; (2) the application's libraries (and,
# for the worker, libtorch CPU unpacked from DJL's Maven artifact); (3) the application itself
# (and the bundled model flux-shapes). Layers 1 are identical in both images. Timestamps come from
# SOURCE_DATE_EPOCH (default: the last commit's time), so the same inputs give the same layers.
#
# Needs root (buildah's storage, mmdebstrap) and, when missing, installs buildah and mmdebstrap
# with apt-get. The CUDA worker is a recipe only (worker-cuda.md): its base is not reachable here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=images.env
source deploy/images/images.env
OUT="${FLEET_IMAGES_DIR:-$ROOT/deploy/target/images}"
WORK="$OUT/work"
log() { echo "images: $*" >&2; }
die() { echo "images: error: $*" >&2; exit 2; }

[[ $(id -u) -eq 0 ]] || die "building images needs root (buildah's storage and mmdebstrap run as root here); run as root"
if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null; then
  command -v apt-get >/dev/null || die "buildah and mmdebstrap are missing and there is no apt-get to install them"
  log "installing buildah and mmdebstrap (apt-get) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 && apt-get install -y -q --no-install-recommends buildah mmdebstrap debian-archive-keyring >&2
fi
[[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/jlink" ]] || die "JAVA_HOME must name a JDK with jlink (./fleet images sets it)"

POM_VERSION="$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -1)"
VERSION="${POM_VERSION%-SNAPSHOT}"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
CREATED="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
SOURCE_URL="${FLEET_SOURCE_URL:-https://github.com/fleet-dev/fleet}"
GATEWAY_APP=api-gateway/target/quarkus-app
WORKER_APP=gpu-worker/target/quarkus-app
for d in "$GATEWAY_APP" "$WORKER_APP"; do
  [[ -f "$d/quarkus-run.jar" ]] || die "$d is missing: build first (./fleet build)"
done

# buildah keeps its own storage under target/ (vfs: works inside containers and on any file
# system), so nothing outside this folder is touched.
BUILDAH=(buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
t0=$(date +%s)

# Every file gets the same owner and mtime, so that a layer depends on content only; everyone may
# read (the images run as a user, not root), only root may write (DJL leaves its cache 0700).
normalize() {
  chown -R 0:0 "$1"
  chmod -R go-w,a+rX "$1"
  if [[ -d "$1/tmp" ]]; then chmod 1777 "$1/tmp"; fi
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# --- 1. the base root filesystem: Debian's libraries, a jlinked JRE, the user ----------------
BASE="$WORK/base"
log "Debian $DEBIAN_SUITE root filesystem (mmdebstrap) ..."
mmdebstrap --quiet --variant=extract --include=libc6,libgcc-s1,libstdc++6,zlib1g \
  --extract-hook='ls "$1/var/cache/apt/archives/" | grep "\.deb$" > "$1/../debian-packages.txt"' \
  ${FLEET_DEBIAN_MIRROR:+--aptopt="Acquire::Check-Valid-Until \"false\""} \
  "$DEBIAN_SUITE" "$BASE" ${FLEET_DEBIAN_MIRROR:-} >&2
# What a runtime needs: libraries and their copyright files; no package manager state or docs.
rm -rf "$BASE"/var/cache/* "$BASE"/var/lib/* "$BASE"/var/log/* "$BASE"/usr/share/{lintian,gdb,gcc,man,info,locale} \
  "$BASE"/etc/apt "$BASE"/etc/dpkg "$BASE"/dev/*
find "$BASE/usr/share/doc" -type f ! -name copyright -delete
find "$BASE/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
mkdir -p "$BASE"/{tmp,proc,sys,dev,etc,app,opt,run}
chmod 1777 "$BASE/tmp"
# The user: HOME is /tmp, the one place a read-only root filesystem leaves writable.
cat > "$BASE/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
fleet:x:$IMAGE_UID:$IMAGE_UID:fleet:/tmp:/usr/sbin/nologin
EOF
cat > "$BASE/etc/group" <<EOF
root:x:0:
fleet:x:$IMAGE_UID:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$BASE/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$BASE/etc/hosts"
: > "$BASE/etc/resolv.conf"
mkdir -p "$BASE/usr/share/doc/fleet"
sed 's/^/debian: /' "$WORK/debian-packages.txt" > "$BASE/usr/share/doc/fleet/packages.txt"

log "Java runtime (jlink $("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')): $JAVA_MODULES"
"$JAVA_HOME/bin/jlink" --add-modules "$JAVA_MODULES" --output "$BASE/opt/java" \
  --strip-debug --no-header-files --no-man-pages --generate-cds-archive 2>&1 | grep -v '^Warning: .*linking from the run-time image' >&2 || true
[[ -x "$BASE/opt/java/bin/java" ]] || die "jlink failed"
# Class data sharing archive written at build time; nothing is written at run time.
rm -f "$BASE"/opt/java/bin/{jrunscript,jwebserver,rmiregistry,serialver,jfr,jcmd,jinfo,jmap,jps,jstack,jstat,jstatd} 2>/dev/null || true
normalize "$BASE"

# --- 2./3. each image's layers -----------------------------------------------------------
# stage_app SRC DEST_LIB DEST_APP: a Quarkus fast-jar split in libraries (layer 2) and the rest.
stage_app() {
  mkdir -p "$2/app" "$3/app"
  cp -a "$1/lib" "$2/app/"
  cp -a "$1/quarkus-run.jar" "$1/app" "$1/quarkus" "$3/app/"
}

# build_image NAME TAG LAYER2_DIR LAYER3_DIR CONFIG_ARGS...
build_image() {
  local name="$1" tag="$2" l2="$3" l3="$4"; shift 4
  local ref="localhost/$name:$tag" archive="$OUT/${name//\//-}-$tag.oci.tar" c stage="localhost/stage-${name//\//-}-$tag"
  normalize "$l2"; normalize "$l3"
  c=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" copy --quiet "$c" "$BASE/" / >/dev/null
  "${BUILDAH[@]}" commit --quiet --timestamp "$SOURCE_DATE_EPOCH" --rm "$c" "$stage:base" >/dev/null
  c=$("${BUILDAH[@]}" from "$stage:base")
  "${BUILDAH[@]}" copy --quiet "$c" "$l2/" / >/dev/null
  "${BUILDAH[@]}" commit --quiet --timestamp "$SOURCE_DATE_EPOCH" --rm "$c" "$stage:deps" >/dev/null
  c=$("${BUILDAH[@]}" from "$stage:deps")
  "${BUILDAH[@]}" copy --quiet "$c" "$l3/" / >/dev/null
  "${BUILDAH[@]}" config "$@" \
    --user "$IMAGE_UID:$IMAGE_UID" --workingdir /app \
    --env PATH=/opt/java/bin:/usr/bin:/bin --env JAVA_HOME=/opt/java --env LANG=C.UTF-8 \
    --label org.opencontainers.image.source="$SOURCE_URL" \
    --label org.opencontainers.image.version="$tag" \
    --label org.opencontainers.image.revision="$REVISION" \
    --label org.opencontainers.image.created="$CREATED" \
    --label org.opencontainers.image.vendor=fleet \
    --label org.opencontainers.image.base.name=scratch \
    --label dev.fleet.debian.suite="$DEBIAN_SUITE" \
    --annotation org.opencontainers.image.source="$SOURCE_URL" \
    --annotation org.opencontainers.image.version="$tag" \
    --annotation org.opencontainers.image.revision="$REVISION" \
    --annotation org.opencontainers.image.created="$CREATED" \
    --history-comment "fleet deploy/images/build.sh" \
    "$c"
  "${BUILDAH[@]}" commit --quiet --timestamp "$SOURCE_DATE_EPOCH" --rm "$c" "$ref" >/dev/null
  rm -f "$archive"
  "${BUILDAH[@]}" push --quiet --format oci "$ref" "oci-archive:$archive:$name:$tag" >&2
  log "$name:$tag -> ${archive#"$ROOT/"} ($(du -h "$archive" | cut -f1) compressed)"
}

# Licences of what the images carry (SPDX): the fleet's own code declares none yet.
LIC_BASE="GPL-2.0-only WITH Classpath-exception-2.0 AND LGPL-2.1-or-later AND GPL-3.0-or-later WITH GCC-exception-3.1 AND Zlib"
LIC_APP="Apache-2.0 AND MIT AND BSD-3-Clause AND EPL-2.0"

log "gateway image ..."
G="$WORK/gateway"
stage_app "$GATEWAY_APP" "$G/l2" "$G/l3"
build_image "$GATEWAY_REPOSITORY" "$VERSION" "$G/l2" "$G/l3" \
  --entrypoint '["/opt/java/bin/java","-XX:+ExitOnOutOfMemoryError","-Djava.util.logging.manager=org.jboss.logmanager.LogManager","-jar","/app/quarkus-run.jar"]' \
  --cmd '[]' --port 8080/tcp \
  --env QUARKUS_HTTP_HOST=0.0.0.0 \
  --env JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75 \
  --label org.opencontainers.image.title=fleet-api-gateway \
  --label org.opencontainers.image.description="The fleet's HTTP gateway: REST /v1, console, health /q/health/live and /q/health/ready on :8080" \
  --label org.opencontainers.image.licenses="$LIC_BASE AND $LIC_APP" \
  --annotation org.opencontainers.image.licenses="$LIC_BASE AND $LIC_APP" \
  --annotation org.opencontainers.image.title=fleet-api-gateway

log "worker image (CPU) ..."
W="$WORK/worker"
stage_app "$WORKER_APP" "$W/l2" "$W/l3"
# libtorch CPU from DJL's Maven artifact (pytorch-native-cpu), unpacked where DJL would put it,
# with DJL's JNI library (pytorch-jni) and the tokenizers' native library next to it: the worker
# writes nothing to load them. The native jar itself stays out of the image (112 MB).
PT_VERSION="$(sed -n 's:.*<pytorch.version>\(.*\)</pytorch.version>.*:\1:p' pom.xml)"
DJL_VERSION="$(sed -n 's:.*<djl.version>\(.*\)</djl.version>.*:\1:p' pom.xml)"
log "DJL $DJL_VERSION native libraries (libtorch $PT_VERSION CPU, tokenizers) ..."
DJL_DIR="$W/l2/opt/djl"
mkdir -p "$DJL_DIR"
DJL_CACHE_DIR="$DJL_DIR" "$JAVA_HOME/bin/java" -Dai.djl.offline=true --enable-native-access=ALL-UNNAMED \
  -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
  -cp "gpu-worker/target/gpu-worker-$POM_VERSION.jar:gpu-worker/target/lib/*" dev.fleet.engine.cli.EngineMain generate \
  --model gpu-worker/models/flux-shapes --prompt "warm up" --seed 1 --steps 1 --width 16 --height 16 \
  --out "$WORK/warm-up.png" >/dev/null 2>"$WORK/warm-up.log" || { cat "$WORK/warm-up.log" >&2; die "could not unpack DJL's native libraries"; }
LIBTORCH_DIR="$(cd "$DJL_DIR" && ls -d pytorch/"$PT_VERSION"-*-cpu-linux-x86_64 | head -1)"
[[ -n "$LIBTORCH_DIR" && -f "$DJL_DIR/$LIBTORCH_DIR/libtorch_cpu.so" ]] || die "libtorch was not unpacked into $DJL_DIR"
# DJL looks for its JNI library as libdjl_torch.so in PYTORCH_LIBRARY_PATH.
ln -s "$DJL_VERSION-libdjl_torch.so" "$DJL_DIR/$LIBTORCH_DIR/libdjl_torch.so"
# The Quarkus runner indexes every jar it lists and opens them when a package they share (native/lib,
# with the tokenizers' jar) is looked up, so the native jar is replaced by an empty one.
for jar in "$W"/l2/app/lib/main/ai.djl.pytorch.pytorch-native-cpu-*.jar; do
  rm -rf "$WORK/stub" && mkdir -p "$WORK/stub/META-INF"
  echo "Emptied by deploy/images/build.sh: libtorch is unpacked in /opt/djl (PYTORCH_LIBRARY_PATH)." > "$WORK/stub/META-INF/FLEET-STUB.txt"
  rm -f "$jar"
  "$JAVA_HOME/bin/jar" --create --no-manifest --date="$CREATED" --file "$jar" -C "$WORK/stub" .
done
mkdir -p "$W/l3/models"
cp -a gpu-worker/models/flux-shapes "$W/l3/models/"
build_image "$WORKER_REPOSITORY" "$VERSION-$WORKER_CPU_FLAVOR" "$W/l2" "$W/l3" \
  --entrypoint '["/opt/java/bin/java","-XX:+ExitOnOutOfMemoryError","-Dai.djl.offline=true","--enable-native-access=ALL-UNNAMED","-Djava.util.logging.manager=org.jboss.logmanager.LogManager","-jar","/app/quarkus-run.jar"]' \
  --cmd '[]' --port 8081/tcp \
  --env QUARKUS_HTTP_HOST=0.0.0.0 \
  --env JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=25 \
  --env DJL_CACHE_DIR=/opt/djl \
  --env PYTORCH_LIBRARY_PATH="/opt/djl/$LIBTORCH_DIR" \
  --env PYTORCH_VERSION="$PT_VERSION" \
  --env PYTORCH_FLAVOR=cpu \
  --env FLEET_WORKER_DEVICE=cpu \
  --env FLEET_WORKER_MODEL_DIR=/models/flux-shapes \
  --env FLEET_WORKER_MODEL_NAME=flux-shapes \
  --label org.opencontainers.image.title=fleet-gpu-worker \
  --label org.opencontainers.image.description="The fleet's worker, CPU flavour (libtorch $PT_VERSION CPU through DJL $DJL_VERSION) with the bundled model flux-shapes; health /q/health/live and /q/health/ready on :8081" \
  --label org.opencontainers.image.licenses="$LIC_BASE AND $LIC_APP AND BSD-3-Clause" \
  --annotation org.opencontainers.image.licenses="$LIC_BASE AND $LIC_APP AND BSD-3-Clause" \
  --annotation org.opencontainers.image.title=fleet-gpu-worker

"${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
if [[ -z "${FLEET_IMAGES_KEEP_WORK:-}" ]]; then
  "${BUILDAH[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$WORK"
fi
log "built in $(( $(date +%s) - t0 )) s:"
ls -l "$OUT"/*.oci.tar >&2
