# The gateway image the Helm chart's gateway.image names (fleet/api-gateway).
# Build from the repository root after `./fleet build`:
#   docker build -f deploy/docker/gateway.Dockerfile -t fleet/api-gateway:0.1.0 .
FROM eclipse-temurin:21-jre
WORKDIR /app
COPY api-gateway/target/quarkus-app/lib/ lib/
COPY api-gateway/target/quarkus-app/*.jar ./
COPY api-gateway/target/quarkus-app/app/ app/
COPY api-gateway/target/quarkus-app/quarkus/ quarkus/
USER 185
EXPOSE 8080
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/quarkus-run.jar"]
