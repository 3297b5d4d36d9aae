package dev.fleet.gateway.storage;

import io.minio.BucketExistsArgs;
import io.minio.GetPresignedObjectUrlArgs;
import io.minio.MinioClient;
import io.minio.http.Method;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;

/**
 * The result images in the bucket, as the gateway sees them: presigned, expiring GET links (signed
 * locally, no request to the server) and a reachability check for readiness. Workers write the
 * images; the gateway never reads them.
 */
@ApplicationScoped
public class ResultStorage {
  private static final Duration MAX_TTL = Duration.ofDays(7); // the S3 signature v4 limit

  private final MinioClient client;
  private final MinioClient signer;
  private final StorageConfig config;

  public ResultStorage(StorageConfig config) {
    this.config = config;
    if (config.urlTtl().compareTo(Duration.ofSeconds(1)) < 0
        || config.urlTtl().compareTo(MAX_TTL) > 0) {
      throw new IllegalStateException(
          "fleet.s3.url-ttl must be between 1s and 7d, got " + config.urlTtl());
    }
    this.client = client(config.endpoint());
    this.signer = client(config.publicEndpoint().orElse(config.endpoint()));
  }

  private MinioClient client(String endpoint) {
    return MinioClient.builder()
        .endpoint(endpoint)
        .credentials(config.accessKey(), config.secretKey())
        .region(config.region())
        .build();
  }

  /** A link to the object, valid for the configured TTL. */
  public PresignedLink presignedGet(String key) {
    return presignedGet(key, config.urlTtl());
  }

  /** A link to the object, valid for {@code ttl} (whole seconds, 1 s to 7 days). */
  public PresignedLink presignedGet(String key, Duration ttl) {
    int seconds = (int) Math.max(1, Math.min(ttl.toSeconds(), MAX_TTL.toSeconds()));
    Instant expires = Instant.now().plusSeconds(seconds);
    try {
      String url =
          signer.getPresignedObjectUrl(
              GetPresignedObjectUrlArgs.builder()
                  .method(Method.GET)
                  .bucket(config.bucket())
                  .object(key)
                  .expiry(seconds)
                  .build());
      return new PresignedLink(URI.create(url), expires);
    } catch (Exception e) {
      // Signing is local arithmetic; a failure here is a configuration error.
      throw new IllegalStateException("cannot sign a link for " + key, e);
    }
  }

  /** Whether the bucket answers (for readiness). */
  public boolean bucketReachable() throws Exception {
    return client.bucketExists(BucketExistsArgs.builder().bucket(config.bucket()).build());
  }

  public String bucket() {
    return config.bucket();
  }

  public record PresignedLink(URI url, Instant expiresAt) {}
}
