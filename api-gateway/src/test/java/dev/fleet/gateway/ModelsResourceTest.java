package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;

import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code GET /v1/models}: the registry as the console reads it, and the console page itself. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class ModelsResourceTest {
  @Inject ApiKeyStore keys;
  String apiKey;

  @BeforeEach
  void authenticate() {
    apiKey = TestKeys.useByDefault(keys, "default");
  }

  @AfterEach
  void forgetKey() {
    TestKeys.reset();
  }

  @Test
  void listsTheRegistryWithDefaultsAndLimits() {
    given()
        .get("/v1/models")
        .then()
        .statusCode(200)
        .contentType(ContentType.JSON)
        .body("defaultModel", equalTo("flux-tiny"))
        .body("limits.sideMultiple", equalTo(16))
        .body("limits.maxPromptChars", equalTo(2000))
        .body("limits.maxGuidance", equalTo(30.0f))
        .body("limits.maxSeed", equalTo(4294967295L))
        .body("models.name", hasItems("flux-tiny", "flux-dev"))
        .body("models.find { it.name == 'flux-tiny' }.family", equalTo("tiny"))
        .body("models.find { it.name == 'flux-tiny' }.defaults.steps", equalTo(4))
        .body("models.find { it.name == 'flux-tiny' }.defaults.width", equalTo(128))
        .body("models.find { it.name == 'flux-tiny' }.defaults.height", equalTo(96))
        .body("models.find { it.name == 'flux-tiny' }.defaults.guidance", equalTo(3.5f))
        .body("models.find { it.name == 'flux-tiny' }.minSide", equalTo(16))
        .body("models.find { it.name == 'flux-tiny' }.maxSide", equalTo(1024))
        .body("models.find { it.name == 'flux-tiny' }.minSteps", equalTo(1))
        .body("models.find { it.name == 'flux-tiny' }.maxSteps", equalTo(50))
        .body("models.find { it.name == 'flux-dev' }.family", equalTo("flux-dev"))
        .body("models.find { it.name == 'flux-dev' }.minSide", equalTo(256))
        .body("models.find { it.name == 'flux-dev' }.maxSide", equalTo(4096))
        .body("models.find { it.name == 'flux-tiny' }.classifierFreeGuidance", equalTo(false))
        .body("models.find { it.name == 'newbie' }.family", equalTo("newbie"))
        .body("models.find { it.name == 'newbie' }.classifierFreeGuidance", equalTo(true))
        .body("models.find { it.name == 'newbie' }.defaults.steps", equalTo(28))
        .body("models.find { it.name == 'newbie' }.defaults.guidance", equalTo(5.0f))
        .body("models.find { it.name == 'newbie' }.defaults.width", equalTo(1024));
  }

  @Test
  void theConsoleIsServedAtTheRoot() {
    given()
        .get("/")
        .then()
        .statusCode(200)
        .contentType(ContentType.HTML)
        .body(org.hamcrest.Matchers.containsString("console.js"));
    given().get("/console.js").then().statusCode(200);
    given().get("/console.css").then().statusCode(200);
  }
}
