package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.gateway.storage.ResultStorage;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.Job;
import dev.fleet.model.store.JobStore;
import dev.fleet.model.store.Lease;
import dev.fleet.stack.FleetStackTestResource;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import javax.imageio.ImageIO;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A worker's PNG in the bucket, served through the presigned link, which expires. */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class ResultLinkTest {
  @Inject ApiKeyStore keys;
  String apiKey;

  @BeforeEach
  void authenticate() {
    apiKey = TestKeys.useByDefault(keys, "links");
  }

  @AfterEach
  void forgetKey() {
    TestKeys.reset();
  }

  @Inject JobStore store;
  @Inject ResultStorage storage;

  @ConfigProperty(name = "fleet.s3.endpoint")
  String endpoint;

  @ConfigProperty(name = "fleet.s3.access-key")
  String accessKey;

  @ConfigProperty(name = "fleet.s3.secret-key")
  String secretKey;

  @ConfigProperty(name = "fleet.s3.bucket")
  String bucket;

  private final HttpClient http = HttpClient.newHttpClient();

  private static byte[] png() throws Exception {
    BufferedImage image = new BufferedImage(128, 96, BufferedImage.TYPE_INT_RGB);
    image.setRGB(5, 5, 0xff4400);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(image, "png", out);
    return out.toByteArray();
  }

  /** What a worker does at the end of a job: upload, then record success. */
  private Job finishedJob(byte[] png) throws Exception {
    Job job = TestJobs.queued(store, "links", 4);
    Lease lease = store.start(job.id(), "w", 1).orElseThrow();
    String key = lease.resultKey(job.tenant());
    MinioClient s3 =
        MinioClient.builder()
            .endpoint(endpoint)
            .credentials(accessKey, secretKey)
            .region("us-east-1")
            .build();
    s3.putObject(
        PutObjectArgs.builder().bucket(bucket).object(key).contentType("image/png").stream(
                new ByteArrayInputStream(png), png.length, -1)
            .build());
    store.succeed(lease, key, png.length);
    return store.find(job.id()).orElseThrow();
  }

  private HttpResponse<byte[]> fetch(URI url) throws Exception {
    return http.send(HttpRequest.newBuilder(url).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void theLinkServesThePng() throws Exception {
    byte[] png = png();
    Job job = finishedJob(png);
    var body = given().get("/v1/jobs/" + job.id()).then().statusCode(200).extract().jsonPath();
    assertEquals("SUCCEEDED", body.getString("status"));
    assertEquals(png.length, body.getLong("result.bytes"));
    assertEquals(128, body.getInt("result.width"));
    assertEquals(1234L, body.getLong("result.seed"));
    HttpResponse<byte[]> image = fetch(URI.create(body.getString("result.url")));
    assertEquals(200, image.statusCode());
    assertEquals("image/png", image.headers().firstValue("Content-Type").orElseThrow());
    assertArrayEquals(png, image.body());

    String location =
        given()
            .redirects()
            .follow(false)
            .get("/v1/jobs/" + job.id() + "/image")
            .then()
            .statusCode(303)
            .extract()
            .header("Location");
    // Stored bytes back from S3 (no floating point involved): exact.
    assertArrayEquals(png, fetch(URI.create(location)).body());
    // Or the link itself, as JSON.
    String url =
        given()
            .get("/v1/jobs/" + job.id() + "/image?redirect=false")
            .then()
            .statusCode(200)
            .body("expiresAt", org.hamcrest.Matchers.notNullValue())
            .extract()
            .path("url");
    // The same stored bytes through the presigned link: exact, no floating point involved.
    assertArrayEquals(png, fetch(URI.create(url)).body());
    given().get("/v1/jobs/" + job.id() + "/image?redirect=maybe").then().statusCode(400);
  }

  @Test
  void theLinkExpires() throws Exception {
    Job job = finishedJob(png());
    URI url = storage.presignedGet(job.resultKey(), Duration.ofSeconds(2)).url();
    assertEquals(200, fetch(url).statusCode());
    Thread.sleep(3500);
    int expired = fetch(url).statusCode();
    assertTrue(expired == 403 || expired == 400, "an expired link is refused, got " + expired);
  }
}
