package dev.fleet.worker;

import io.smallrye.config.ConfigMapping;

/** The S3-compatible bucket that receives result images. */
@ConfigMapping(prefix = "fleet.s3")
public interface S3Config {
  String endpoint();

  String accessKey();

  String secretKey();

  String bucket();
}
