package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/** What {@link FuzzTest} found, each pinned by a focused case. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class FuzzRegressionTest {
  @Inject ApiKeyStore keys;

  /**
   * A prompt with NUL ({@code "\\u0000"} in JSON) reached PostgreSQL, which cannot store NUL in
   * text: POST /v1/jobs answered 503 "the job store cannot be reached". Now the field's own 422.
   */
  @Test
  void aPromptWithNulIsAnInvalidFieldRatherThanAStoreFailure() {
    String key = TestKeys.create(keys, "fuzz-regression");
    for (String prompt : new String[] {"\\u0000", "a fox\\u0000", "\\u0000\\ud800"}) {
      given()
          .header("Authorization", "Bearer " + key)
          .contentType(ContentType.JSON)
          .body("{\"prompt\":\"" + prompt + "\"}")
          .post("/v1/jobs")
          .then()
          .statusCode(422)
          .contentType("application/problem+json")
          .body("errors[0].field", equalTo("prompt"))
          .body("errors[0].message", containsString("NUL"));
    }
  }

  /**
   * A key id with NUL (%00) reached PostgreSQL, which refuses NUL in text as an error: GET and
   * DELETE /v1/admin/keys/%00 answered 503 "the job store cannot be reached". Not a key id: 404.
   */
  @Test
  void aKeyIdWithNulIsNotFoundRatherThanAStoreFailure() {
    String admin = keys.create("fuzz-regression-admin", true, "test").secret();
    for (String id : new String[] {"%00", "a%00b", "abcdefghijk%00"}) {
      for (String method : new String[] {"GET", "DELETE"}) {
        given()
            .urlEncodingEnabled(false)
            .header("Authorization", "Bearer " + admin)
            .request(method, "/v1/admin/keys/" + id)
            .then()
            .statusCode(404)
            .contentType("application/problem+json")
            .body("type", equalTo("urn:fleet:problem:key-not-found"));
      }
    }
  }
}
