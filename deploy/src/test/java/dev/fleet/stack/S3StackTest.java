package dev.fleet.stack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.minio.BucketExistsArgs;
import io.minio.GetPresignedObjectUrlArgs;
import io.minio.http.Method;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(FleetStackExtension.class)
class S3StackTest {

  @Test
  void bucketExists(StackEndpoints stack) throws Exception {
    assertEquals("fleet-images", stack.s3Bucket());
    assertTrue(
        StackClients.minio(stack)
            .bucketExists(BucketExistsArgs.builder().bucket(stack.s3Bucket()).build()));
  }

  @Test
  void presignedGetServesTheUploadedObject(StackEndpoints stack) throws Exception {
    byte[] image = new byte[70_000];
    new Random(7).nextBytes(image);
    String key = "results/job-1.png";
    StackClients.putObject(stack, key, image, "image/png");

    String url =
        StackClients.minio(stack)
            .getPresignedObjectUrl(
                GetPresignedObjectUrlArgs.builder()
                    .method(Method.GET)
                    .bucket(stack.s3Bucket())
                    .object(key)
                    .expiry(300)
                    .build());
    HttpResponse<byte[]> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofByteArray());

    assertEquals(200, response.statusCode());
    assertEquals("image/png", response.headers().firstValue("Content-Type").orElse(null));
    assertArrayEquals(image, response.body());
  }

  @Test
  void unsignedRequestsAreRefused(StackEndpoints stack) throws Exception {
    String key = "results/private.png";
    StackClients.putObject(stack, key, new byte[] {1, 2, 3}, "image/png");
    HttpResponse<Void> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(stack.s3Endpoint() + "/" + stack.s3Bucket() + "/" + key))
                    .build(),
                HttpResponse.BodyHandlers.discarding());
    assertEquals(403, response.statusCode());
  }
}
