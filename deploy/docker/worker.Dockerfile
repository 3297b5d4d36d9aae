# The worker image the Helm chart's workers.image names (fleet/gpu-worker).
# Build from the repository root after `./fleet build`:
#   docker build -f deploy/docker/worker.Dockerfile -t fleet/gpu-worker:0.1.0 .
#
# DJL's PyTorch engine needs a libtorch that matches the card's driver. This image takes the one
# of a PyTorch CUDA base image and points DJL at it (PYTORCH_LIBRARY_PATH; see
# ../shared/docs/GPU.md for why the version labels say 2.7.1 and cu128). DJL's JNI library for that
# libtorch must be built against it and copied to /opt/djl/libdjl_torch.so (GPU.md describes how);
# without a GPU, leave PYTORCH_LIBRARY_PATH unset and DJL uses the CPU libtorch it ships.
FROM pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-21-jre-headless \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY gpu-worker/target/quarkus-app/lib/ lib/
COPY gpu-worker/target/quarkus-app/*.jar ./
COPY gpu-worker/target/quarkus-app/app/ app/
COPY gpu-worker/target/quarkus-app/quarkus/ quarkus/
ENV PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cu128 FLEET_WORKER_DEVICE=auto
EXPOSE 8081
ENTRYPOINT ["java", "-Dai.djl.offline=true", "--enable-native-access=ALL-UNNAMED", "-XX:MaxRAMPercentage=75", "-jar", "/app/quarkus-run.jar"]
