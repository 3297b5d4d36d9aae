package dev.fleet.stack;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;

/**
 * Quarkus test resource that points the application under test at the JVM's shared local stack
 * ({@link SharedStack}): Kafka, the {@code fleet} database and the S3 bucket.
 *
 * <pre>{@code
 * @QuarkusTest
 * @WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
 * class SubmitJobTest { ... }
 * }</pre>
 *
 * <p>Config overrides returned: {@code kafka.bootstrap.servers}, {@code
 * quarkus.datasource.jdbc.url}, {@code quarkus.datasource.username}, {@code
 * quarkus.datasource.password}, {@code fleet.s3.endpoint}, {@code fleet.s3.access-key}, {@code
 * fleet.s3.secret-key}, {@code fleet.s3.bucket}.
 */
public final class FleetStackTestResource implements QuarkusTestResourceLifecycleManager {

  @Override
  public Map<String, String> start() {
    return SharedStack.endpoints().asQuarkusConfig();
  }

  @Override
  public void stop() {
    // Nothing: Quarkus stops its resources whenever it restarts the application (another test
    // profile, say), but the stack is shared by the whole JVM and stops when the JVM ends.
  }
}
