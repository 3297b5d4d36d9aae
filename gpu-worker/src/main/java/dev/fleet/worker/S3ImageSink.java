package dev.fleet.worker;

import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.minio.RemoveObjectArgs;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.ByteArrayInputStream;

/** Uploads result PNGs to the configured bucket through the MinIO client. */
@ApplicationScoped
public class S3ImageSink implements ImageSink {
  private final MinioClient client;
  private final String bucket;

  public S3ImageSink(S3Config config) {
    this.client =
        MinioClient.builder()
            .endpoint(config.endpoint())
            .credentials(config.accessKey(), config.secretKey())
            .build();
    this.bucket = config.bucket();
  }

  @Override
  public void put(String key, byte[] png) throws Exception {
    client.putObject(
        PutObjectArgs.builder().bucket(bucket).object(key).stream(
                new ByteArrayInputStream(png), png.length, -1)
            .contentType("image/png")
            .build());
  }

  @Override
  public void delete(String key) throws Exception {
    client.removeObject(RemoveObjectArgs.builder().bucket(bucket).object(key).build());
  }
}
