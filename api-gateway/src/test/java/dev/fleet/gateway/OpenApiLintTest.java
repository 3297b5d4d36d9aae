package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The OpenAPI document passes {@code redocly lint} with its recommended rules: no error, no
 * warning. Redocly's CLI comes from npm into {@code .tools/redocly} (ignored by git; {@code
 * .ci/run} installs it, and so does this test when npm is there); without npm the test is skipped.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class OpenApiLintTest {
  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  private static final Path TOOL = ROOT.resolve(".tools/redocly");
  private static final Path REDOCLY = TOOL.resolve("node_modules/.bin/redocly");

  @Test
  void theDocumentPassesRedoclysRecommendedRules() throws Exception {
    ensureRedocly();
    String yaml =
        given()
            .accept("application/yaml")
            .get("/q/openapi")
            .then()
            .statusCode(200)
            .extract()
            .asString();
    Path doc = Path.of("target", "openapi-lint", "openapi.yaml").toAbsolutePath();
    Files.createDirectories(doc.getParent());
    Files.writeString(doc, yaml, StandardCharsets.UTF_8);
    Process p =
        new ProcessBuilder(REDOCLY.toString(), "lint", "--format=stylish", doc.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "redocly lint did not finish");
    System.out.println(
        "OpenApiLintTest: "
            + out.lines()
                .filter(l -> l.contains("valid") || l.contains("warning") || l.contains("error"))
                .toList());
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("Woohoo!"), out);
    // Redocly ends with "You have N warning(s)." when there are any.
    assertTrue(!out.matches("(?s).*You have \\d+ warnings?.*"), "warnings: " + out);
  }

  private static void ensureRedocly() throws IOException, InterruptedException {
    if (Files.isExecutable(REDOCLY)) {
      return;
    }
    boolean npm =
        List.of(System.getenv().getOrDefault("PATH", "").split(":")).stream()
            .anyMatch(d -> Files.isExecutable(Path.of(d, "npm")));
    Assumptions.assumeTrue(npm, "npm is not installed: cannot get @redocly/cli");
    Files.createDirectories(TOOL);
    if (!Files.exists(TOOL.resolve("package.json"))) {
      Files.writeString(TOOL.resolve("package.json"), "{\"private\":true}\n");
    }
    Process install =
        new ProcessBuilder("npm", "install", "--no-audit", "--no-fund", "@redocly/cli@2")
            .directory(TOOL.toFile())
            .redirectErrorStream(true)
            .start();
    String out = new String(install.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(install.waitFor(300, TimeUnit.SECONDS), "npm install did not finish");
    Assumptions.assumeTrue(
        install.exitValue() == 0 && Files.isExecutable(REDOCLY), "npm install failed: " + out);
  }
}
