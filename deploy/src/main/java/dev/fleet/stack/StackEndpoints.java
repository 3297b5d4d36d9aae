package dev.fleet.stack;

import java.util.LinkedHashMap;
import java.util.Map;

/** Where a running stack answers, and the credentials its clients use. */
public record StackEndpoints(
    String kafkaBootstrapServers,
    String jdbcUrl,
    String jdbcUser,
    String jdbcPassword,
    String s3Endpoint,
    String s3AccessKey,
    String s3SecretKey,
    String s3Bucket) {

  /** The endpoints as {@code name: value} pairs, in the order {@code StackMain} prints them. */
  public Map<String, String> asMap() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("kafka.bootstrap.servers", kafkaBootstrapServers);
    m.put("jdbc.url", jdbcUrl);
    m.put("jdbc.user", jdbcUser);
    m.put("jdbc.password", jdbcPassword);
    m.put("s3.endpoint", s3Endpoint);
    m.put("s3.access-key", s3AccessKey);
    m.put("s3.secret-key", s3SecretKey);
    m.put("s3.bucket", s3Bucket);
    return m;
  }

  /**
   * The endpoints as the fleet's Quarkus applications name them in their configuration (the
   * overrides that {@code FleetStackTestResource} returns).
   */
  public Map<String, String> asQuarkusConfig() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("kafka.bootstrap.servers", kafkaBootstrapServers);
    m.put("quarkus.datasource.jdbc.url", jdbcUrl);
    m.put("quarkus.datasource.username", jdbcUser);
    m.put("quarkus.datasource.password", jdbcPassword);
    m.put("fleet.s3.endpoint", s3Endpoint);
    m.put("fleet.s3.access-key", s3AccessKey);
    m.put("fleet.s3.secret-key", s3SecretKey);
    m.put("fleet.s3.bucket", s3Bucket);
    return m;
  }
}
