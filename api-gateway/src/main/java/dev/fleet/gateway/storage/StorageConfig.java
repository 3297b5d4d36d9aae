package dev.fleet.gateway.storage;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/** The S3-compatible bucket that holds the images ({@code fleet.s3.*}). */
@ConfigMapping(prefix = "fleet.s3")
public interface StorageConfig {

  /** Where the gateway reaches the S3 API, e.g. {@code http://localhost:9000}. */
  String endpoint();

  /**
   * The endpoint that clients reach, when it differs (a cluster-internal service name versus an
   * ingress): presigned links are signed for this host.
   */
  Optional<String> publicEndpoint();

  String accessKey();

  String secretKey();

  String bucket();

  /** Signing region; set so that signing a link needs no request to the server. */
  @WithDefault("us-east-1")
  String region();

  /** How long a presigned result link stays valid (1 s to 7 days). */
  @WithDefault("15m")
  Duration urlTtl();
}
