package dev.fleet.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * deploy/docker/compose.yaml, checked statically only (no container engine runs on this project's
 * machines): it names the images deploy/images/build.sh produces, runs them read-only with a /tmp
 * tmpfs as the images' user, and gives both the stack's endpoints. The images themselves are run by
 * deploy/images/smoke.sh.
 */
class ComposeFileTest {

  static final Path COMPOSE = Path.of("docker", "compose.yaml");

  @Test
  void namesTheImagesTheBuildProducesAndRunsThemReadOnly() throws IOException {
    Properties images = new Properties();
    try (Reader in = Files.newBufferedReader(Path.of("images", "images.env"))) {
      images.load(in);
    }
    String version =
        Files.readString(Path.of("..", "pom.xml"))
            .replaceAll("(?s).*?\\n  <version>([^<]+)</version>.*", "$1")
            .replace("-SNAPSHOT", "");
    JsonNode services =
        new ObjectMapper(new YAMLFactory()).readTree(COMPOSE.toFile()).get("services");

    JsonNode gateway = services.get("gateway");
    JsonNode worker = services.get("worker");
    assertEquals(
        images.getProperty("GATEWAY_REPOSITORY") + ":" + version, gateway.get("image").asText());
    assertEquals(
        images.getProperty("WORKER_REPOSITORY")
            + ":"
            + version
            + "-"
            + images.getProperty("WORKER_CPU_FLAVOR"),
        worker.get("image").asText());
    String user = images.getProperty("IMAGE_UID") + ":" + images.getProperty("IMAGE_UID");
    for (JsonNode service : new JsonNode[] {gateway, worker}) {
      assertFalse(service.has("build"), "images come from ./fleet images, not from a build");
      assertTrue(service.get("read_only").asBoolean(), "read-only root filesystem");
      assertEquals("/tmp", service.get("tmpfs").get(0).asText());
      assertEquals(user, service.get("user").asText());
    }
    for (String key :
        new String[] {
          "KAFKA_BOOTSTRAP_SERVERS",
          "QUARKUS_DATASOURCE_JDBC_URL",
          "FLEET_S3_ENDPOINT",
          "FLEET_S3_BUCKET"
        }) {
      assertTrue(gateway.get("environment").has(key), "gateway environment " + key);
    }
    // The worker takes the gateway's environment through a merge key (<<: *common).
    assertTrue(worker.get("environment").has("<<"), "worker shares the stack's endpoints");
    assertEquals(
        "/models/flux-shapes", worker.get("environment").get("FLEET_WORKER_MODEL_DIR").asText());
    assertTrue(services.get("gateway").get("ports").get(0).asText().endsWith(":8080"));
  }
}
