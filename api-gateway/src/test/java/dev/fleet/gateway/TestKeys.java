package dev.fleet.gateway;

import dev.fleet.model.auth.ApiKeyStore;
import io.restassured.RestAssured;
import io.restassured.builder.RequestSpecBuilder;
import io.restassured.config.HeaderConfig;
import io.restassured.specification.RequestSpecification;

/** API keys for the tests: made in the test stack's database, sent as Bearer tokens. */
final class TestKeys {
  private TestKeys() {}

  /** A new key of {@code tenant}; its text. */
  static String create(ApiKeyStore keys, String tenant) {
    return keys.create(tenant, false, "test").secret();
  }

  /** A request specification that sends {@code key}. */
  static RequestSpecification as(String key) {
    return new RequestSpecBuilder().addHeader("Authorization", "Bearer " + key).build();
  }

  /**
   * Every RestAssured request of the test sends a new key of {@code tenant} (an explicit
   * Authorization header replaces it); returns the key.
   */
  static String useByDefault(ApiKeyStore keys, String tenant) {
    String key = create(keys, tenant);
    RestAssured.config =
        RestAssured.config()
            .headerConfig(HeaderConfig.headerConfig().overwriteHeadersWithName("Authorization"));
    RestAssured.requestSpecification = as(key);
    return key;
  }

  static void reset() {
    RestAssured.requestSpecification = null;
  }
}
